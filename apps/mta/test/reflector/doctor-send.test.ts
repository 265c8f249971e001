// `homing doctor --send` between two `homing start` servers on loopback for two domains: a.test
// (127.0.0.1) sends through its own queue, DKIM signing and outbound worker to the reflector
// check@b.test (127.0.0.2), whose report comes back through b.test's queue and outbound worker
// into a.test's postmaster Maildir, and the doctor grades it. Each zone is as published.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeKey } from '@homing/dkim';
import { type DnsServer, startDnsServer, type Zones } from '@homing/dns/testing';
import { freePort, runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorSendResult } from '../../src/commands/doctor-send';
import { cleanUp, type HomingServer, startHoming } from '../server/harness';

let dns: DnsServer;
let a: HomingServer | undefined;
let b: HomingServer | undefined;

const soa = { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 };
function zones(keys: { a?: string; b?: string } = {}, ptrOfA = 'mx.a.test'): Zones {
  return {
    'in-addr.arpa': { SOA: soa },
    test: { SOA: soa },
    'a.test': { MX: [{ priority: 10, exchange: 'mx.a.test' }], TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    'mx.a.test': { A: ['127.0.0.1'], TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    '_dmarc.a.test': { TXT: ['v=DMARC1; p=reject'] },
    ...(keys.a ? { 'homing._domainkey.a.test': { TXT: [keys.a] } } : {}),
    // No caching of the client's PTR, so the second test's change is seen at once.
    '1.0.0.127.in-addr.arpa': { PTR: [ptrOfA], ttl: 0 },
    'b.test': { MX: [{ priority: 10, exchange: 'mx.b.test' }], TXT: ['v=spf1 ip4:127.0.0.2 -all'] },
    'mx.b.test': { A: ['127.0.0.2'], TXT: ['v=spf1 ip4:127.0.0.2 -all'] },
    '_dmarc.b.test': { TXT: ['v=DMARC1; p=reject'] },
    ...(keys.b ? { 'homing._domainkey.b.test': { TXT: [keys.b] } } : {}),
    '2.0.0.127.in-addr.arpa': { PTR: ['mx.b.test'] },
  };
}

function config(domain: string, ip: string, remotePort: number, extra: string[] = []): string {
  return [
    `domain: ${domain}`,
    `hostname: mx.${domain}`,
    'tls: { cert: {cert}, key: {key} }',
    'users: {users}',
    'state: {state}',
    'dns: ["{dns}"]',
    `remote_port: ${remotePort}`,
    `outbound: { ipv4: ${ip} }`,
    'listen:',
    `  mx: ${ip}:{mx}`,
    `  submission: ${ip}:{submission}`,
    `  submissions: ${ip}:{submissions}`,
    `  metrics: ${ip}:{metrics}`,
    ...extra,
  ].join('\n');
}

const ports = async () => ({
  mx: await freePort(),
  submission: await freePort(),
  submissions: await freePort(),
  metrics: await freePort(),
});
const record = (server: HomingServer, domain: string) =>
  describeKey(readFileSync(join(server.state, 'dkim', `${domain}.homing.key`), 'utf8')).record;

beforeAll(async () => {
  dns = await startDnsServer({ zones: zones() });
  const [portsA, portsB] = [await ports(), await ports()];
  a = await startHoming({
    dns,
    ports: portsA,
    users: [{ address: 'alice@a.test', password: 'alice-password' }],
    configText: config('a.test', '127.0.0.1', portsB.mx),
  });
  b = await startHoming({
    dns,
    ports: portsB,
    users: [{ address: 'bob@b.test', password: 'bob-password' }],
    configText: config('b.test', '127.0.0.2', portsA.mx, ['reflector: check@b.test']),
  });
  // The DKIM keys each server generated on its first start, published as quickstart says.
  dns.setZones(zones({ a: record(a, 'a.test'), b: record(b, 'b.test') }));
}, 60_000);

afterAll(async () => {
  await cleanUp(a, true);
  await cleanUp(b, true);
  await dns.close();
});

async function doctorSend(): Promise<{ code: number; result: DoctorSendResult; stderr: string }> {
  const run = await runHoming(
    ['doctor', '--send', 'check@b.test', '--config', a!.configPath, '--wait', '30', '--json'],
    {
      timeout: 120_000,
    },
  );
  expect(run.stdout, run.stderr).not.toBe('');
  return { code: run.code, result: JSON.parse(run.stdout) as DoctorSendResult, stderr: run.stderr };
}

const statusOf = (result: DoctorSendResult, name: string) => result.checks.find((check) => check.name === name)?.status;

describe('homing doctor --send to a reflector on another server', () => {
  it('delivers through the queue, DKIM-signed, and grades the report: SPF, DKIM and DMARC pass', async () => {
    const { code, result } = await doctorSend();
    expect(result.delivery, JSON.stringify(result)).toMatchObject({ state: 'delivered', signed: true });
    expect(result.delivery.reply).toMatch(/^250 2\.0\.0 Ok: report queued as /);
    expect(result.session).toMatchObject({
      domain: 'b.test',
      mx: ['mx.b.test'],
      host: 'mx.b.test',
      address: '127.0.0.2',
      family: 'ipv4',
      source: '127.0.0.1',
    });
    // The session that carried the message, as outbound delivery reported it (not a probe).
    expect(result.session.probe).toBeUndefined();
    expect(result.session.replies.map((r) => [r.command, r.reply.slice(0, 3)])).toEqual([
      ['(greeting)', '220'],
      [`MAIL FROM:<${result.from}>`, '250'],
      ['RCPT TO:<check@b.test>', '250'],
      ['(end of data)', '250'],
    ]);
    expect(result.session.tls?.version).toMatch(/^TLSv1\.[23]$/);
    // The test certificate names localhost, not mx.b.test: said as it is.
    expect(result.session.tls?.verified).toBe(false);
    expect(result.report?.reflector).toBe('check@b.test');
    expect(result.report?.client).toMatchObject({
      ip: '127.0.0.1',
      helo: 'mx.a.test',
      ptr: ['mx.a.test'],
      fcrdns: 'pass',
    });
    for (const name of ['report.spf', 'report.dkim', 'report.dmarc', 'report.fcrdns', 'report.tls', 'report.helo']) {
      expect(statusOf(result, name), name).toBe('pass');
    }
    expect(result.status).toBe('ok');
    expect(code).toBe(0);
  }, 150_000);

  it('reports FCrDNS as it is in the zone: a PTR that does not resolve back fails, and nothing else changes', async () => {
    dns.setZones(zones({ a: record(a!, 'a.test'), b: record(b!, 'b.test') }, 'nowhere.a.test'));
    try {
      const { result } = await doctorSend();
      expect(statusOf(result, 'report.fcrdns')).toBe('fail');
      expect(result.report?.client.ptr).toEqual(['nowhere.a.test']);
      expect(statusOf(result, 'report.spf')).toBe('pass');
      expect(statusOf(result, 'report.dkim')).toBe('pass');
      expect(statusOf(result, 'report.dmarc')).toBe('pass');
    } finally {
      dns.setZones(zones({ a: record(a!, 'a.test'), b: record(b!, 'b.test') }));
    }
  }, 150_000);
});
