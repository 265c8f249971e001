import { describe, expect, it } from 'vitest';
import { createBounce, createSuccessReport } from '../src/index';
import { DSN_SCRIPT, parseWithPython } from './python-email';

// Success DSNs (RFC 3461 6.2, RFC 3464 2.3.3): what Python's `email` package reads in them.

const original =
  'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Lunch\r\nMessage-ID: <m1@example.org>\r\n\r\nSee you at noon.\r\nSecret body line\r\n';

interface ParsedDsn {
  type: string;
  reportType: string;
  defects: string[];
  to: string;
  subject: string;
  parts: string[];
  human: string;
  blocks: Record<string, string>[];
  headers: string;
}

const base = {
  reportingMta: 'mta.example.org',
  sender: 'alice@example.org',
  originalMessage: original,
  arrivalDate: new Date('2026-11-27T10:00:00Z'),
  date: new Date('2026-11-27T10:00:05Z'),
};

describe('createSuccessReport', () => {
  it('reports a delivery to a mailbox as Action: delivered, Status 2.0.0, with the Original-Recipient', () => {
    const report = createSuccessReport({
      ...base,
      envelopeId: 'env-7',
      recipients: [{ address: 'bob@example.org', action: 'delivered', originalRecipient: 'Bob@Example.org' }],
    });
    expect(report).not.toBeNull();
    expect(report!.sender).toBe('');
    expect(report!.recipients).toEqual(['alice@example.org']);
    const text = report!.message.toString('utf8');
    expect(text).toContain('\r\nAuto-Submitted: auto-replied\r\n');
    const parsed = parseWithPython(report!.message, DSN_SCRIPT) as ParsedDsn;
    expect(parsed.type).toBe('multipart/report');
    expect(parsed.reportType).toBe('delivery-status');
    expect(parsed.defects).toEqual([]);
    expect(parsed.subject).toBe('Successful Mail Delivery Report');
    expect(parsed.parts).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    expect(parsed.blocks[0]).toMatchObject({
      'Reporting-MTA': 'dns; mta.example.org',
      'Original-Envelope-Id': 'env-7',
    });
    expect(parsed.blocks[1]).toEqual({
      'Original-Recipient': 'rfc822; Bob@Example.org',
      'Final-Recipient': 'rfc822; bob@example.org',
      Action: 'delivered',
      Status: '2.0.0',
    });
    expect(parsed.human).toContain('<bob@example.org>: delivered to the mailbox');
    expect(parsed.headers).toContain('Subject: Lunch');
  });

  it('reports a relay to a next hop without DSN with its Remote-MTA and Diagnostic-Code', () => {
    const report = createSuccessReport({
      ...base,
      recipients: [
        {
          address: 'bob@example.net',
          action: 'relayed',
          status: '2.0.0',
          remoteMta: 'mx.example.net',
          reply: { code: 250, enhanced: '2.0.0', lines: ['Ok: queued as 4F2A'] },
        },
      ],
    });
    const parsed = parseWithPython(report!.message, DSN_SCRIPT) as ParsedDsn;
    expect(parsed.blocks[1]).toEqual({
      'Final-Recipient': 'rfc822; bob@example.net',
      Action: 'relayed',
      Status: '2.0.0',
      'Remote-MTA': 'dns; mx.example.net',
      'Diagnostic-Code': 'smtp; 250 2.0.0 Ok: queued as 4F2A',
    });
    expect(parsed.human).toContain('does not send delivery notifications');
  });

  it('reports an alias expansion as Action: expanded', () => {
    const report = createSuccessReport({
      ...base,
      recipients: [{ address: 'team@example.org', action: 'expanded' }],
    });
    const parsed = parseWithPython(report!.message, DSN_SCRIPT) as ParsedDsn;
    expect(parsed.blocks[1]).toMatchObject({ Action: 'expanded', Status: '2.0.0' });
  });

  it('quotes the headers only, even for RET=FULL (RFC 3461 4.3), while a failure report returns the message', () => {
    const recipients = [{ address: 'bob@example.org', action: 'delivered' as const }];
    for (const ret of ['FULL', 'HDRS'] as const) {
      const parsed = parseWithPython(
        createSuccessReport({ ...base, ret, recipients })!.message,
        DSN_SCRIPT,
      ) as ParsedDsn;
      expect(parsed.parts[2]).toBe('text/rfc822-headers');
      expect(parsed.headers).not.toContain('Secret body line');
    }
    const bounce = createBounce({
      ...base,
      ret: 'FULL',
      recipients: [{ address: 'bob@example.org', action: 'failed', status: '5.1.1' }],
    });
    expect(bounce!.message.toString('utf8')).toContain('Content-Type: message/rfc822\r\n\r\nFrom: Alice');
    expect(bounce!.message.toString('utf8')).toContain('Secret body line');
  });

  it('sends nothing to the null sender', () => {
    expect(
      createSuccessReport({ ...base, sender: '', recipients: [{ address: 'b@x.example', action: 'delivered' }] }),
    ).toBeNull();
  });

  it('refuses a status outside the success class, and no recipients', () => {
    expect(() =>
      createSuccessReport({ ...base, recipients: [{ address: 'b@x.example', action: 'delivered', status: '5.0.0' }] }),
    ).toThrow(/2\.X\.Y/);
    expect(() => createSuccessReport({ ...base, recipients: [] })).toThrow(TypeError);
  });
});

describe('Original-Recipient keeps the ORCPT address type (RFC 3461 4.2, RFC 6533 3)', () => {
  const blockOf = (report: { message: Buffer } | null) => {
    const text = report!.message.toString('utf8');
    const start = text.indexOf('Original-Recipient:');
    return text.slice(start, text.indexOf('\r\n\r\n', start));
  };

  it('writes a utf-8 ORCPT as it is in message/global-delivery-status', () => {
    const report = createSuccessReport({
      ...base,
      recipients: [
        {
          address: 'jorg@example.org',
          action: 'delivered',
          originalRecipient: 'jörg@bücher.example',
          originalRecipientType: 'utf-8',
        },
      ],
    });
    expect(report!.message.toString('utf8')).toContain('Content-Type: message/global-delivery-status');
    expect(blockOf(report)).toMatch(/^Original-Recipient: utf-8; jörg@bücher\.example\r\n/);
  });

  it('writes an ASCII utf-8 ORCPT as utf-8-addr-xtext in the 7-bit message/delivery-status', () => {
    const report = createSuccessReport({
      ...base,
      recipients: [
        {
          address: 'a@example.org',
          action: 'delivered',
          originalRecipient: 'a+b@example.org',
          originalRecipientType: 'UTF-8',
        },
      ],
    });
    expect(report!.message.toString('utf8')).toContain('Content-Type: message/delivery-status');
    expect(blockOf(report)).toMatch(/^Original-Recipient: utf-8; a\\x\{2B\}b@example\.org\r\n/);
  });

  it('keeps another registered type, and makes a non-ASCII rfc822 one utf-8', () => {
    const x400 = createSuccessReport({
      ...base,
      recipients: [
        { address: 'a@example.org', action: 'delivered', originalRecipient: 'c=us', originalRecipientType: 'x400' },
      ],
    });
    expect(blockOf(x400)).toMatch(/^Original-Recipient: x400; c=us\r\n/);
    const wrong = createBounce({
      ...base,
      recipients: [
        {
          address: 'a@example.org',
          action: 'failed',
          status: '5.1.1',
          originalRecipient: 'jörg@example.org',
          originalRecipientType: 'rfc822',
        },
      ],
    });
    expect(blockOf(wrong)).toMatch(/^Original-Recipient: utf-8; jörg@example\.org\r\n/);
  });
});
