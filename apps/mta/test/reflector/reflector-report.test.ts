import { describe, expect, it } from 'vitest';
import { lintHeader } from '../../src/server/reflector/header-lint';
import {
  buildReport,
  parseReportMessage,
  type ReflectorObservation,
  renderReportMessage,
} from '../../src/server/reflector/reflector-report';

const seen: ReflectorObservation = {
  reflector: 'check@example.org',
  hostname: 'mx.example.org',
  receivedAt: new Date('2026-12-01T10:00:00Z'),
  envelope: { from: 'alice@sender.test', to: ['check@example.org'] },
  client: { ip: '192.0.2.1', helo: 'mail.sender.test', fcrdns: undefined },
  tls: true,
  auth: undefined,
  header: lintHeader('From: alice@sender.test\r\n\r\n'),
  messageId: undefined,
  subject: 'hi\r\nBcc: injected@example.net',
};

describe('the reflector report', () => {
  it('says none for checks that did not run, rather than pass', () => {
    const report = buildReport(seen);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
    expect(byName).toMatchObject({
      spf: 'none',
      dkim: 'none',
      dmarc: 'none',
      arc: 'none',
      fcrdns: 'none',
      tls: 'pass',
    });
    expect(byName.helo).toBe('warn');
  });

  it('is a MIME message whose JSON part reads back as the same report, with no header injected by the subject', () => {
    const report = buildReport(seen);
    const text = renderReportMessage(report, seen);
    expect(parseReportMessage(text)).toEqual(report);
    expect(text).not.toMatch(/^Bcc:/m);
    expect(text).toMatch(/^To: <alice@sender\.test>$/m);
    expect(text.split('\r\n\r\n')[0]).not.toMatch(/[^\r]\n/);
  });

  it('finds no report in a message without its JSON part', () => {
    expect(parseReportMessage('Subject: x\r\n\r\nhello\r\n')).toBeUndefined();
  });
});
