import { createServer, type Server } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { createHttpsFetcher, createMtaStsCache, getMtaStsPolicy } from '@homing/policy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent, type MtaStsPolicySource } from '../src/index';
import { makeCertificates, type TestCertificates } from './certificates';
import { type Receiver, startReceiver } from './peers';

// The whole MTA-STS path over loopback: the _mta-sts TXT record from the loopback DNS server, the
// policy from a real HTTPS server through @homing/policy's getMtaStsPolicy, enforced by delivery.

let dns: DnsServer;
let https: Server;
let certs: TestCertificates;
let source: MtaStsPolicySource;
let policyText = '';
const receivers: Receiver[] = [];
const agents: DeliveryAgent[] = [];

// The policy host resolves to loopback only: no lookup ever leaves the machine.
const loopbackLookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

beforeAll(async () => {
  certs = makeCertificates(['mx.sts.example', 'mta-sts.sts.example']);
  https = createServer({ key: certs.server.key, cert: certs.server.cert }, (request, response) => {
    if (request.url !== '/.well-known/mta-sts.txt') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain' }).end(policyText);
  });
  await new Promise<void>((done) => https.listen(0, '127.0.0.1', done));
  dns = await startDnsServer({
    zones: {
      'sts.example': { MX: [{ priority: 10, exchange: 'mx.sts.example' }] },
      '_mta-sts.sts.example': { TXT: ['v=STSv1; id=20261127T1;'] },
      'mx.sts.example': { A: ['127.0.0.1'] },
    },
  });
  const resolver = createResolver({ servers: [dns.address] });
  const fetch = createHttpsFetcher({
    ca: certs.ca.cert,
    port: (https.address() as AddressInfo).port,
    lookup: loopbackLookup,
    timeoutMs: 3000,
  });
  // How an app wires @homing/policy into delivery: a policy, none, or an error (treated as none).
  source = async (domain, options = {}) => {
    const result = await getMtaStsPolicy(domain, {
      resolver,
      fetch,
      cache: createMtaStsCache(),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (result.status === 'policy') return result.policy!;
    if (result.status === 'none') return null;
    throw new Error(result.reason);
  };
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});
afterAll(async () => {
  await new Promise<void>((done) => https.close(() => done()));
  await dns.close();
});

async function attempt(identity: { key: string; cert: string }) {
  const peer = await startReceiver(identity);
  receivers.push(peer);
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address] }),
    hostname: 'mta.example.org',
    port: peer.port,
    addressPreference: 'ipv4',
    mtaSts: source,
    tls: { ca: certs.ca.cert },
    timeouts: { connect: 2000, greeting: 3000, command: 3000, mail: 3000, rcpt: 3000, dataStart: 3000, dataEnd: 3000 },
  });
  agents.push(agent);
  const result = await agent.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, 'Subject: sts\r\n\r\nx\r\n');
  return { outcome: result.recipients[0]!, peer, report: agent.tlsReport() };
}

describe('MTA-STS policy fetched over loopback HTTPS by @homing/policy', { timeout: 30_000 }, () => {
  it('defers under enforce when the MX certificate is bad, and sends nothing', async () => {
    policyText = 'version: STSv1\nmode: enforce\nmx: mx.sts.example\nmax_age: 86400\n';
    const { outcome, peer, report } = await attempt(certs.selfSigned);
    expect(outcome).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(peer.messages).toHaveLength(0);
    expect(report[0]).toMatchObject({ domain: 'sts.example', policyType: 'sts', failed: 1 });
  });

  it('delivers under enforce when the MX certificate is valid for its name', async () => {
    policyText = 'version: STSv1\nmode: enforce\nmx: *.sts.example\nmax_age: 86400\n';
    const { outcome, peer } = await attempt(certs.server);
    expect(outcome.status).toBe('delivered');
    expect(peer.messages[0]!.secure).toBe(true);
  });

  it('defers under enforce when the MX is not in the fetched policy', async () => {
    policyText = 'version: STSv1\nmode: enforce\nmx: mx.elsewhere.example\nmax_age: 86400\n';
    const { outcome, peer } = await attempt(certs.server);
    expect(outcome.status).toBe('deferred');
    expect(outcome.reason).toMatch(/MTA-STS/);
    expect(peer.connections()).toBe(0);
  });
});
