import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, createMtaStsSource, type DeliveryAgent } from '../src/index';
import { makeCertificates, type TestCertificates } from './certificates';
import { type Receiver, startReceiver } from './peers';

// The whole MTA-STS path over loopback: the _mta-sts TXT record and the policy host's address from
// the loopback DNS server, the policy from a real HTTPS server through createMtaStsSource
// (@homing/mta-sts's getMtaStsPolicy), enforced by delivery.

let dns: DnsServer;
let https: Server;
let certs: TestCertificates;
let policyText = '';
const receivers: Receiver[] = [];
const agents: DeliveryAgent[] = [];

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
      // The policy host: createMtaStsSource looks it up with the same resolver.
      'mta-sts.sts.example': { A: ['127.0.0.1'] },
    },
  });
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
    // How an app wires @homing/mta-sts into delivery: createMtaStsSource, with the test CA and port.
    // A new one per attempt: each test publishes a new policy under the same id, which a source's
    // cache would rightly keep (RFC 8461 3.3).
    mtaSts: createMtaStsSource({
      resolver: createResolver({ servers: [dns.address] }),
      https: { ca: certs.ca.cert, port: (https.address() as AddressInfo).port, timeoutMs: 3000 },
    }),
    tls: { ca: certs.ca.cert },
    timeouts: {
      connectMs: 2000,
      greetingMs: 3000,
      commandMs: 3000,
      mailMs: 3000,
      rcptMs: 3000,
      dataStartMs: 3000,
      dataEndMs: 3000,
    },
  });
  agents.push(agent);
  const result = await agent.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, 'Subject: sts\r\n\r\nx\r\n');
  return { outcome: result.recipients[0]!, peer, report: agent.tlsReport() };
}

describe('MTA-STS policy fetched over loopback HTTPS by @homing/mta-sts', { timeout: 30_000 }, () => {
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
