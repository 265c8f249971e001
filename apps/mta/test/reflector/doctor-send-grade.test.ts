import { describe, expect, it } from 'vitest';
import { gradeSend, overall } from '../../src/commands/doctor-send';
import type { ReflectorReport } from '../../src/server/reflector/reflector-report';
import type { SessionProbe } from '../../src/server/reflector/session-probe';

const outcome = {
  queueId: 'q',
  messageId: '<m@a.test>',
  from: 'postmaster@a.test',
  to: 'check@b.test',
  state: 'delivered' as const,
  attempts: 1,
  reply: '250 2.0.0 Ok',
  signed: true,
};
const session: SessionProbe = {
  domain: 'b.test',
  mx: ['mx.b.test'],
  port: 25,
  replies: [],
  tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', verified: true },
};
const report = (dmarc: 'pass' | 'fail'): ReflectorReport => ({
  version: 1,
  reflector: 'check@b.test',
  receivedAt: '2026-12-01T00:00:00.000Z',
  envelope: { from: 'postmaster@a.test', to: ['check@b.test'] },
  client: { ip: '192.0.2.1', helo: 'mx.a.test', ptr: [], fcrdns: 'none' },
  tls: true,
  messageId: '<m@a.test>',
  authenticationResults: null,
  checks: [
    { name: 'spf', status: 'pass', message: '' },
    { name: 'dkim', status: 'pass', message: '' },
    { name: 'dmarc', status: dmarc, message: '' },
    { name: 'fcrdns', status: 'fail', message: 'no PTR' },
  ],
});

describe('how homing doctor --send grades', () => {
  it('is ok when delivered and the report has SPF, DKIM and DMARC pass, whatever FCrDNS says', () => {
    const checks = gradeSend(outcome, session, report('pass'));
    expect(checks.map((c) => c.name)).toEqual([
      'delivery',
      'dkim-signed',
      'session-tls',
      'report.spf',
      'report.dkim',
      'report.dmarc',
      'report.fcrdns',
    ]);
    expect(overall(checks, report('pass'))).toBe('ok');
  });

  it('is an error when the report has DMARC fail, or the message was not delivered', () => {
    expect(overall(gradeSend(outcome, session, report('fail')), report('fail'))).toBe('error');
    const deferred = { ...outcome, state: 'deferred' as const, reply: '451 4.7.1 later' };
    expect(overall(gradeSend(deferred, session, null), null)).toBe('error');
  });

  it('says when the MX offers no STARTTLS, and warns on a certificate that does not verify', () => {
    const { tls: _tls, ...plain } = session;
    expect(gradeSend(outcome, plain, null).find((c) => c.name === 'session-tls')?.status).toBe('fail');
    const unverified = { ...session, tls: { ...session.tls!, verified: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT' } };
    expect(gradeSend(outcome, unverified, null).find((c) => c.name === 'session-tls')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('not verified (DEPTH_ZERO_SELF_SIGNED_CERT)'),
    });
  });
});
