import { describe, expect, it } from 'vitest';
import { reportSigner, reportSigningDomain } from '../../src/server/outbound/report-signing';

// Reports come from MAILER-DAEMON@{hostname}: signed with the key of our domain that aligns with it.
describe('reportSigningDomain', () => {
  it('takes the longest of our domains that is the host name or a parent of it', () => {
    expect(reportSigningDomain('mx.mail.example.org', ['example.org', 'mail.example.org'])).toBe('mail.example.org');
    expect(reportSigningDomain('Example.ORG.', ['other.test', 'example.org'])).toBe('example.org');
  });

  it('falls back on the first domain for a host name outside them, never a mere suffix match', () => {
    expect(reportSigningDomain('mx.badexample.org', ['b.test', 'example.org'])).toBe('b.test');
    expect(reportSigningDomain('host.elsewhere.test', ['b.test'])).toBe('b.test');
  });
});

describe('reportSigner', () => {
  it('leaves a report as it is when the domain has no key', () => {
    const sign = reportSigner({
      hostname: () => 'mx.example.org',
      domains: () => ['example.org'],
      signatures: () => undefined,
    });
    const report = Buffer.from('From: a@example.org\r\n\r\nbody\r\n');
    expect(sign(report)).toBe(report);
  });
});
