import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDnsServer, type Zones } from '@homing/dns/testing';
import { runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/setup/doctor-types';
import { cleanUp, type HomingServer, startHoming } from '../server/harness';
import {
  dkimKey,
  domain,
  goodPolicy,
  goodZones,
  hostname,
  makePki,
  ptr4,
  ptr6,
  startPolicyServer,
  type TestPki,
} from './fixtures';

// `homing doctor` against a real `homing start` on loopback, the loopback DNS server as the
// internet and the MTA-STS policy served over HTTPS by a loopback server with a test CA. Each case
// breaks one record and doctor must report exactly that error, with the record that fixes it.
describe('homing doctor', () => {
  let pki: TestPki;
  let server: HomingServer;
  let expiredServer: HomingServer;
  let policyServer: { port: number; close(): Promise<void> };
  let policy: string | undefined = goodPolicy;
  const key = dkimKey();
  const other = dkimKey();

  beforeAll(async () => {
    pki = await makePki();
    policyServer = await startPolicyServer(pki, () => policy);
    const dns = await startDnsServer({ zones: goodZones(key.record) });
    server = await startHoming({ dns, cert: { ...pki.good } });
    expiredServer = await startHoming({ dns, cert: { ...pki.expired } });
    for (const running of [server, expiredServer]) {
      mkdirSync(join(running.state, 'dkim'), { recursive: true });
      writeFileSync(join(running.state, 'dkim', `${domain}.homing.key`), key.privateKey, { mode: 0o600 });
    }
  }, 60_000);
  afterAll(async () => {
    await cleanUp(expiredServer, true);
    await cleanUp(server);
    await policyServer?.close();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  async function doctor(zones: Zones, target = server, extra: string[] = []) {
    target.dns.setZones(zones);
    const run = await runHoming([
      'doctor',
      domain,
      '--config',
      target.configPath,
      '--ip',
      '127.0.0.1',
      '--ip',
      '::1',
      '--ca',
      pki.caPath,
      '--mta-sts-port',
      String(policyServer.port),
      '--json',
      ...extra,
    ]);
    expect(run.stderr).toBe('');
    return { code: run.code, report: JSON.parse(run.stdout) as DoctorReport };
  }

  /** The checks that are not ok, as `name ip status`. */
  const notOk = (report: DoctorReport) =>
    report.checks
      .filter((check) => check.status !== 'ok')
      .map((check) => `${check.name}${check.ip ? ` ${check.ip}` : ''} ${check.status}`);
  const errorOf = (report: DoctorReport) => report.checks.find((check) => check.status === 'error');

  it('passes every check on a well-configured domain, with each check named once (ptr, fcrdns, dnsbl per IP)', async () => {
    const { code, report } = await doctor(goodZones(key.record));
    expect(notOk(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.domain).toBe(domain);
    expect(report.checks.map((check) => `${check.name}${check.ip ? ` ${check.ip}` : ''}`)).toEqual([
      'mx',
      'a',
      'ptr 127.0.0.1',
      'ptr ::1',
      'fcrdns 127.0.0.1',
      'fcrdns ::1',
      'helo',
      'spf',
      'dkim',
      'dmarc',
      'mta-sts',
      'tls-rpt',
      'tlsa',
      'tls',
      'tls',
      'tls',
      'dnsbl 127.0.0.1',
      'dnsbl ::1',
    ]);
    expect(report.providers).toContainEqual({ provider: 'Gmail', requirement: 'SPF or DKIM passes', status: 'ok' });
    expect(report.providers).toContainEqual({
      provider: 'Yahoo',
      requirement: 'spam complaint rate under 0.3% (0.1% recommended)',
      status: 'not-checkable',
    });
    expect(
      report.providers.some((grade) => grade.provider === 'Microsoft' && grade.requirement === 'SPF or DKIM passes'),
    ).toBe(false);
  }, 30_000);

  it('reports the missing PTR of the IPv6 address only, with the PTR line to ask for', async () => {
    const zones = goodZones(key.record);
    delete zones[ptr6];
    const { code, report } = await doctor(zones);
    expect(code).toBe(1);
    // fcrdns of ::1 cannot be checked without a PTR: said as a warning that points at ptr.
    expect(notOk(report)).toEqual(['ptr ::1 error', 'fcrdns ::1 warn']);
    expect(errorOf(report)?.record).toBe(`${ptr6}. 3600 IN PTR ${hostname}.`);
    expect(report.checks.find((check) => check.name === 'ptr' && check.ip === '127.0.0.1')?.status).toBe('ok');
    expect(report.providers).toContainEqual({
      provider: 'Gmail',
      requirement: 'valid forward and reverse DNS for each sending IP',
      status: 'error',
    });
  }, 30_000);

  it('reports an FCrDNS mismatch: the PTR names a host that does not resolve back', async () => {
    const zones = {
      ...goodZones(key.record),
      [ptr4]: { PTR: ['host-7.provider.org'] },
      'host-7.provider.org': { A: ['127.0.0.9'] },
    };
    const { code, report } = await doctor(zones);
    expect(code).toBe(1);
    expect(notOk(report)).toEqual(['fcrdns 127.0.0.1 error']);
    expect(errorOf(report)?.record).toBe(`${ptr4}. 3600 IN PTR ${hostname}.`);
  }, 30_000);

  it('reports SPF that does not cover the IPv6 address, with the record that adds it', async () => {
    const zones = goodZones(key.record);
    zones[domain] = { ...zones[domain], TXT: ['v=spf1 ip4:127.0.0.1 -all'] };
    const { code, report } = await doctor(zones);
    expect(code).toBe(1);
    expect(notOk(report)).toEqual(['spf error']);
    expect(errorOf(report)?.message).toMatch(/fail for ::1/);
    expect(errorOf(report)?.record).toBe(`${domain}. 3600 IN TXT "v=spf1 ip6:::1 ip4:127.0.0.1 -all"`);
  }, 30_000);

  it('reports SPF with 11 DNS lookups, with a record that names the IPs outright', async () => {
    const zones = goodZones(key.record);
    const includes = Array.from({ length: 11 }, (_, i) => `include:spf${i}.${domain}`);
    zones[domain] = { ...zones[domain], TXT: [`v=spf1 ${includes.join(' ')} ip4:127.0.0.1 ip6:::1 -all`] };
    for (let i = 0; i < 11; i += 1) zones[`spf${i}.${domain}`] = { TXT: ['v=spf1 ip4:192.0.2.1 -all'] };
    const { code, report } = await doctor(zones);
    expect(code).toBe(1);
    expect(notOk(report)).toEqual(['spf error']);
    expect(errorOf(report)?.message).toMatch(/permerror/);
    expect(errorOf(report)?.record).toBe(`${domain}. 3600 IN TXT "v=spf1 ip4:127.0.0.1 ip6:::1 -all"`);
  }, 30_000);

  it('reports a DKIM record that is not our key, with our key to publish', async () => {
    const { code, report } = await doctor(goodZones(other.record));
    expect(code).toBe(1);
    expect(notOk(report)).toEqual(['dkim error']);
    expect(errorOf(report)?.message).toMatch(/not the key we sign with/);
    const ours = key.record.replace(/^.*p=/, '');
    expect(errorOf(report)?.record?.replace(/" "/g, '')).toContain(
      `homing._domainkey.${domain}. 3600 IN TXT "v=DKIM1; k=rsa; p=${ours}"`,
    );
  }, 30_000);

  it('reports a missing DMARC record, with the record to publish', async () => {
    const zones = goodZones(key.record);
    delete zones[`_dmarc.${domain}`];
    const { code, report } = await doctor(zones);
    expect(code).toBe(1);
    expect(notOk(report)).toEqual(['dmarc error']);
    expect(errorOf(report)?.record).toBe(
      `_dmarc.${domain}. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}"`,
    );
    expect(report.providers).toContainEqual({
      provider: 'Gmail',
      requirement: 'DMARC record (p=none at least) and mail passes DMARC',
      status: 'warn',
    });
  }, 30_000);

  it('reports an MTA-STS record without a policy served, with the policy file to serve', async () => {
    policy = undefined;
    try {
      const { code, report } = await doctor(goodZones(key.record));
      expect(code).toBe(1);
      expect(notOk(report)).toEqual(['mta-sts error']);
      expect(errorOf(report)?.record).toBe(
        `# serve at https://mta-sts.${domain}/.well-known/mta-sts.txt (Content-Type: text/plain):\nversion: STSv1\nmode: enforce\nmx: ${hostname}\nmax_age: 604800`,
      );
    } finally {
      policy = goodPolicy;
    }
  }, 30_000);

  it('reports an expired certificate on each listener, and nothing else', async () => {
    const { code, report } = await doctor(goodZones(key.record), expiredServer);
    expect(code).toBe(1);
    expect(notOk(report)).toEqual(['tls error', 'tls error', 'tls error']);
    expect(errorOf(report)?.message).toMatch(
      /^mx \(127\.0\.0\.1:\d+\): the certificate has expired: renew it \(.* expired on /,
    );
  }, 30_000);

  it('prints a readable report with the record under the check, and the providers table', async () => {
    {
      const zones = goodZones(key.record);
      delete zones[ptr6];
      server.dns.setZones(zones);
    }
    const run = await runHoming([
      'doctor',
      domain,
      '--config',
      server.configPath,
      '--ip',
      '127.0.0.1',
      '--ip',
      '::1',
      '--ca',
      pki.caPath,
      '--mta-sts-port',
      String(policyServer.port),
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`ERROR ptr ::1: ::1 has no PTR record; ask whoever runs the address block`);
    expect(run.stdout).toContain(`      publish:\n        ${ptr6}. 3600 IN PTR ${hostname}.\n`);
    expect(run.stdout).toMatch(/1 error\(s\), 1 warning\(s\)\./);
    expect(run.stdout).toMatch(
      /valid forward and reverse DNS for each sending IP +FAIL \(all\) +FAIL \(all\) +FAIL \(all\)/,
    );
  }, 30_000);
});
