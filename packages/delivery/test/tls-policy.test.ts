import { createHash, X509Certificate } from 'node:crypto';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer, type Zones } from '@homing/dns/testing';
import type { MtaStsPolicy } from '@homing/mta-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent, type DeliveryOptions } from '../src/index';
import { makeCertificates, type TestCertificates } from './certificates';
import { type Receiver, startReceiver } from './peers';

// Here MTA-STS policies come from an injected MtaStsPolicySource, to test the enforcement logic
// case by case; test/mta-sts-https.test.ts runs the whole path (TXT record, HTTPS policy server,
// @homing/mta-sts's getMtaStsPolicy).

let dns: DnsServer;
let certs: TestCertificates;
const receivers: Receiver[] = [];
const agents: DeliveryAgent[] = [];

const spkiSha256 = (pem: string) =>
  createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }) as Buffer)
    .digest('hex');

/** A signed (AD bit) domain whose MX is mx.<domain> at 127.0.0.1, with TLSA records for `port`. */
function signedZone(domain: string, port: number, tlsa: Zones[string]['TLSA'], authenticated = true): Zones {
  return {
    [domain]: { MX: [{ priority: 10, exchange: `mx.${domain}` }], authenticated },
    [`mx.${domain}`]: { A: ['127.0.0.1'], authenticated },
    [`_${port}._tcp.mx.${domain}`]: { TLSA: tlsa, authenticated },
  };
}

beforeAll(async () => {
  certs = makeCertificates(['mx.dane.example', 'mx.sts.example', 'mx.example.net']);
  dns = await startDnsServer({ zones: {} });
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});
afterAll(async () => {
  await dns.close();
});

async function receiver(options: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(options);
  receivers.push(started);
  return started;
}

function agent(port: number, options: Partial<DeliveryOptions> = {}): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address], cache: false, timeoutMs: 1000, tries: 1 }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
    timeouts: {
      connectMs: 2000,
      greetingMs: 3000,
      commandMs: 3000,
      mailMs: 3000,
      rcptMs: 3000,
      dataStartMs: 3000,
      dataEndMs: 3000,
    },
    ...options,
  });
  agents.push(created);
  return created;
}

const message = 'Subject: tls\r\n\r\nover TLS\r\n';
const policy = (mode: MtaStsPolicy['mode'], mx = ['mx.sts.example']): MtaStsPolicy => ({
  domain: 'sts.example',
  id: '20261201',
  mode,
  mx,
  maxAge: 86400,
  fetchedAt: Date.now(),
  expiresAt: Date.now() + 86_400_000,
});

describe('opportunistic STARTTLS', { timeout: 30_000 }, () => {
  it('uses TLS when offered, without checking the certificate (RFC 7435)', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones({
      'example.net': { MX: [{ priority: 1, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
    });
    const delivering = agent(peer.port);
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
    expect(peer.messages[0]!.secure).toBe(true);
    // The session that carried it, as a sender's self-test reports it.
    expect(result.recipients[0]!.session).toMatchObject({
      host: 'mx.example.net',
      address: '127.0.0.1',
      port: peer.port,
      localAddress: '127.0.0.1',
      tls: { protocol: expect.stringMatching(/^TLSv1\.[23]$/), authorized: false },
      reused: false,
    });
    const said = result.recipients[0]!.session!.replies.map((r) => [r.command, r.reply.slice(0, 3)]);
    expect(said).toEqual([
      ['(greeting)', '220'],
      ['MAIL FROM:<a@example.org>', '250'],
      ['RCPT TO:<b@example.net>', '250'],
      ['(end of data)', '250'],
    ]);
    expect(delivering.tlsReport()).toEqual([
      { domain: 'example.net', policyType: 'no-policy-found', successful: 1, failed: 0, failures: [] },
    ]);
  });
});

describe('DANE (RFC 7672)', { timeout: 30_000 }, () => {
  it('delivers when a DANE-EE record matches the server key', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(
      signedZone('dane.example', peer.port, [
        { usage: 3, selector: 1, matchingType: 1, data: spkiSha256(certs.selfSigned.cert) },
      ]),
    );
    const delivering = agent(peer.port);
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@dane.example'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
    expect(peer.messages[0]!.secure).toBe(true);
    expect(delivering.tlsReport()[0]).toMatchObject({ domain: 'dane.example', policyType: 'tlsa', successful: 1 });
  });

  it('delivers when a DANE-TA record matches the issuing CA and the certificate names the MX', async () => {
    const peer = await receiver({ key: certs.server.key, cert: certs.server.cert + certs.ca.cert });
    dns.setZones(
      signedZone('dane.example', peer.port, [
        { usage: 2, selector: 1, matchingType: 1, data: spkiSha256(certs.ca.cert) },
      ]),
    );
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@dane.example'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
  });

  it('defers on a DANE mismatch and sends nothing, not even in plain text', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(
      signedZone('dane.example', peer.port, [
        { usage: 3, selector: 1, matchingType: 1, data: spkiSha256(certs.server.cert) },
      ]),
    );
    const delivering = agent(peer.port);
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@dane.example'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(result.recipients[0]!.reason).toMatch(/DANE/);
    expect(peer.messages).toHaveLength(0);
    expect(delivering.tlsReport()[0]).toMatchObject({
      policyType: 'tlsa',
      failed: 1,
      failures: [{ resultType: 'validation-failure', count: 1, receivingMx: 'mx.dane.example' }],
    });
  });

  it('defers when DANE applies and the server does not offer STARTTLS', async () => {
    const peer = await receiver({ noStartTls: true });
    dns.setZones(
      signedZone('dane.example', peer.port, [
        { usage: 3, selector: 1, matchingType: 1, data: spkiSha256(certs.server.cert) },
      ]),
    );
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@dane.example'] }, message);
    expect(result.recipients[0]!.status).toBe('deferred');
    expect(peer.messages).toHaveLength(0);
  });

  it('ignores TLSA records that DNSSEC does not vouch for (no AD bit)', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(
      signedZone(
        'dane.example',
        peer.port,
        [{ usage: 3, selector: 1, matchingType: 1, data: spkiSha256(certs.server.cert) }],
        false,
      ),
    );
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@dane.example'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
  });

  it('defers when the TLSA lookup of a signed MX fails', async () => {
    const peer = await receiver(certs.selfSigned);
    const zones = signedZone('dane.example', peer.port, []);
    zones[`_${peer.port}._tcp.mx.dane.example`] = { servfail: true };
    dns.setZones(zones);
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@dane.example'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(peer.messages).toHaveLength(0);
  });

  it('can be turned off', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(
      signedZone('dane.example', peer.port, [
        { usage: 3, selector: 1, matchingType: 1, data: spkiSha256(certs.server.cert) },
      ]),
    );
    const result = await agent(peer.port, { dane: false }).deliver(
      { from: 'a@example.org', to: ['b@dane.example'] },
      message,
    );
    expect(result.recipients[0]!.status).toBe('delivered');
  });
});

describe('MTA-STS (RFC 8461) with an injected policy source', { timeout: 30_000 }, () => {
  const stsZones = {
    'sts.example': { MX: [{ priority: 10, exchange: 'mx.sts.example' }] },
    'mx.sts.example': { A: ['127.0.0.1'] },
  };

  it('defers under enforce when the certificate is not trusted, and sends nothing', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(stsZones);
    const delivering = agent(peer.port, { mtaSts: async () => policy('enforce') });
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(peer.messages).toHaveLength(0);
    expect(delivering.tlsReport()[0]).toMatchObject({
      domain: 'sts.example',
      policyType: 'sts',
      failed: 1,
      failures: [{ resultType: 'certificate-not-trusted' }],
    });
  });

  it('delivers under enforce when the certificate is valid for the MX name', async () => {
    const peer = await receiver(certs.server);
    dns.setZones(stsZones);
    const delivering = agent(peer.port, { mtaSts: async () => policy('enforce'), tls: { ca: certs.ca.cert } });
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
    expect(peer.messages[0]!.secure).toBe(true);
    expect(delivering.tlsReport()[0]).toMatchObject({ policyType: 'sts', successful: 1, failed: 0 });
  });

  it('defers under enforce when the certificate names another host', async () => {
    const wrongName = makeCertificates(['other.example']);
    const peer = await receiver({ key: wrongName.server.key, cert: wrongName.server.cert });
    dns.setZones(stsZones);
    const delivering = agent(peer.port, { mtaSts: async () => policy('enforce'), tls: { ca: wrongName.ca.cert } });
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, message);
    expect(result.recipients[0]!.status).toBe('deferred');
    expect(peer.messages).toHaveLength(0);
    expect(delivering.tlsReport()[0]!.failures[0]!.resultType).toBe('certificate-host-mismatch');
  });

  it('defers under enforce when no MX matches the policy', async () => {
    const peer = await receiver(certs.server);
    dns.setZones(stsZones);
    const delivering = agent(peer.port, { mtaSts: async () => policy('enforce', ['*.elsewhere.example']) });
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, message);
    expect(result.recipients[0]!.status).toBe('deferred');
    expect(result.recipients[0]!.reason).toMatch(/MTA-STS policy/);
    expect(peer.connections()).toBe(0);
  });

  it('delivers under testing with a bad certificate, and counts the failure', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(stsZones);
    const delivering = agent(peer.port, { mtaSts: async () => policy('testing') });
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
    expect(delivering.tlsReport()[0]).toMatchObject({ policyType: 'sts', failed: 1, successful: 0 });
  });

  it('delivers without a policy when the source fails, and counts the fetch error', async () => {
    const peer = await receiver(certs.selfSigned);
    dns.setZones(stsZones);
    const delivering = agent(peer.port, {
      mtaSts: async () => {
        throw new Error('policy host unreachable');
      },
    });
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@sts.example'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
    const report = delivering.tlsReport();
    expect(report.find((entry) => entry.policyType === 'sts')!.failures[0]!.resultType).toBe('sts-policy-fetch-error');
  });
});
