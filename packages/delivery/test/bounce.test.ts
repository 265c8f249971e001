import { describe, expect, it } from 'vitest';
import { createBounce, createDelayWarning, originalHeaders } from '../src/index';
import { DSN_SCRIPT, parseWithPython } from './python-email';

const original =
  'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Lunch\r\nMessage-ID: <m1@example.org>\r\n\r\nSee you at noon.\r\nSecret body line\r\n';

interface ParsedDsn {
  type: string;
  reportType: string;
  defects: string[];
  to: string;
  from: string;
  subject: string;
  parts: string[];
  human: string;
  blocks: Record<string, string>[];
  headers: string;
}

describe('createBounce', () => {
  it('builds a multipart/report that Python reads as delivery-status with one block per recipient', () => {
    const bounce = createBounce({
      reportingMta: 'mta.example.org',
      sender: 'alice@example.org',
      envelopeId: 'env-42',
      arrivalDate: new Date('2026-11-27T10:00:00Z'),
      date: new Date('2026-11-27T11:00:00Z'),
      originalMessage: original,
      recipients: [
        {
          address: 'bob@example.net',
          action: 'failed',
          status: '5.1.1',
          remoteMta: 'mx.example.net',
          reply: { code: 550, enhanced: '5.1.1', lines: ['User unknown', 'in virtual table'] },
        },
        { address: 'carol@example.com', action: 'failed', status: '5.1.10', diagnostic: 'null MX: accepts no mail' },
      ],
    });
    expect(bounce).not.toBeNull();
    expect(bounce!.sender).toBe('');
    expect(bounce!.recipients).toEqual(['alice@example.org']);
    const parsed = parseWithPython(bounce!.message, DSN_SCRIPT) as ParsedDsn;
    expect(parsed.type).toBe('multipart/report');
    expect(parsed.reportType).toBe('delivery-status');
    expect(parsed.defects).toEqual([]);
    expect(parsed.parts).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    expect(parsed.to).toBe('<alice@example.org>');
    expect(parsed.blocks[0]).toMatchObject({
      'Reporting-MTA': 'dns; mta.example.org',
      'Original-Envelope-Id': 'env-42',
    });
    expect(parsed.blocks[1]).toMatchObject({
      'Final-Recipient': 'rfc822; bob@example.net',
      Action: 'failed',
      Status: '5.1.1',
      'Remote-MTA': 'dns; mx.example.net',
      'Diagnostic-Code': 'smtp; 550 5.1.1 User unknown in virtual table',
    });
    expect(parsed.blocks[2]).toMatchObject({ 'Final-Recipient': 'rfc822; carol@example.com', Status: '5.1.10' });
    expect(parsed.blocks[2]).not.toHaveProperty('Diagnostic-Code');
    expect(parsed.human).toContain('<bob@example.net>: 550 5.1.1 User unknown in virtual table (host mx.example.net)');
    expect(parsed.human).toContain('<carol@example.com>: null MX: accepts no mail');
    expect(parsed.headers).toContain('Subject: Lunch');
    expect(parsed.headers).not.toContain('Secret body line');
  });

  it('writes CRLF line endings only', () => {
    const bounce = createBounce({
      reportingMta: 'mta.example.org',
      sender: 'a@example.org',
      originalMessage: 'Subject: x\nFrom: a@example.org\n\nbody\n',
      recipients: [{ address: 'b@example.net', action: 'failed', status: '5.0.0' }],
    })!;
    const text = bounce.message.toString('latin1');
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(text).toContain('Subject: x\r\nFrom: a@example.org\r\n');
  });

  it('never bounces a bounce: a null sender gets no DSN', () => {
    expect(
      createBounce({
        reportingMta: 'mta.example.org',
        sender: '',
        originalMessage: original,
        recipients: [{ address: 'b@example.net', action: 'failed', status: '5.0.0' }],
      }),
    ).toBeNull();
  });

  it('keeps a hostile remote reply from injecting header fields', () => {
    const bounce = createBounce({
      reportingMta: 'mta.example.org',
      sender: 'a@example.org',
      originalMessage: original,
      recipients: [
        {
          address: 'b@example.net',
          action: 'failed',
          status: '5.0.0',
          reply: { code: 550, lines: ['no\r\nAction: delivered\r\nX-Evil: 1'] },
        },
      ],
    })!;
    const parsed = parseWithPython(bounce.message, DSN_SCRIPT) as ParsedDsn;
    expect(parsed.blocks[1]!.Action).toBe('failed');
    expect(parsed.blocks[1]).not.toHaveProperty('X-Evil');
  });

  it('reports internationalized addresses as utf-8 in message/global-delivery-status (RFC 6533)', () => {
    const bounce = createBounce({
      reportingMta: 'mta.example.org',
      sender: 'a@example.org',
      originalMessage: original,
      recipients: [{ address: 'josé@bücher.example', action: 'failed', status: '5.1.1' }],
    })!;
    const text = bounce.message.toString('utf8');
    expect(text).toContain('Content-Type: message/global-delivery-status');
    expect(text).toContain('Final-Recipient: utf-8; josé@bücher.example');
  });

  it('rejects an empty recipient list', () => {
    expect(() =>
      createBounce({ reportingMta: 'm', sender: 'a@example.org', originalMessage: original, recipients: [] }),
    ).toThrow(/at least one recipient/);
  });
});

describe('createDelayWarning', () => {
  it('marks every recipient delayed with Will-Retry-Until, and Python reads it as delivery-status', () => {
    const warning = createDelayWarning({
      reportingMta: 'mta.example.org',
      sender: 'alice@example.org',
      originalMessage: original,
      recipients: [
        {
          address: 'bob@example.net',
          action: 'failed',
          status: '4.4.1',
          diagnostic: 'connection refused',
          willRetryUntil: new Date('2026-12-02T10:00:00Z'),
        },
      ],
    })!;
    const parsed = parseWithPython(warning.message, DSN_SCRIPT) as ParsedDsn;
    expect(parsed.type).toBe('multipart/report');
    expect(parsed.reportType).toBe('delivery-status');
    expect(parsed.subject).toMatch(/Delayed/);
    expect(parsed.blocks[1]).toMatchObject({
      Action: 'delayed',
      Status: '4.4.1',
      'Will-Retry-Until': 'Wed, 02 Dec 2026 10:00:00 +0000',
    });
    expect(parsed.human).toContain('will keep trying');
  });
});

describe('originalHeaders', () => {
  it('stops at the first empty line, whether CRLF or bare LF', () => {
    expect(originalHeaders('A: 1\r\nB: 2\r\n\r\nbody').toString()).toBe('A: 1\r\nB: 2\r\n');
    expect(originalHeaders('A: 1\nB: 2\n\nbody').toString()).toBe('A: 1\r\nB: 2\r\n');
  });

  it('caps the header section on a line boundary', () => {
    const many = Array.from({ length: 100 }, (_, index) => `X-Line-${index}: ${'v'.repeat(20)}`).join('\r\n');
    const capped = originalHeaders(`${many}\r\n\r\nbody`, 200).toString();
    expect(capped.length).toBeLessThanOrEqual(200);
    expect(capped).toMatch(/^X-Line-0: v+\r\n/);
    expect(capped.endsWith('\r\n')).toBe(true);
  });
});
