import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent, type Smarthost } from '../src/index';
import { makeCertificates, type TestCertificates } from './certificates';
import { type Receiver, startReceiver } from './peers';

let dns: DnsServer;
let certs: TestCertificates;
const receivers: Receiver[] = [];
const agents: DeliveryAgent[] = [];
const credentials = { user: 'relay-user', pass: 's3cret' };

beforeAll(async () => {
  certs = makeCertificates(['relay.example.net']);
  // Only the relay's name resolves: recipients' domains are never looked up in smarthost mode.
  dns = await startDnsServer({ zones: { 'relay.example.net': { A: ['127.0.0.1'] } } });
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});
afterAll(async () => {
  await dns.close();
});

async function relay(): Promise<Receiver> {
  const started = await startReceiver({ ...certs.server, auth: credentials });
  receivers.push(started);
  return started;
}

function agent(smarthost: Smarthost, ca = certs.ca.cert): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address] }),
    hostname: 'mta.example.org',
    smarthost,
    tls: { ca },
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
  agents.push(created);
  return created;
}

const message = 'Subject: relayed\r\n\r\nvia the smarthost\r\n';

describe('smarthost mode', { timeout: 30_000 }, () => {
  it('relays every recipient through the smarthost with AUTH over verified STARTTLS', async () => {
    const peer = await relay();
    const result = await agent({ host: 'relay.example.net', port: peer.port, auth: credentials }).deliver(
      { from: 'a@example.org', to: ['b@example.com', 'c@unresolvable.example'] },
      message,
    );
    expect(result.recipients.map((r) => [r.status, r.mx])).toEqual([
      ['delivered', 'relay.example.net'],
      ['delivered', 'relay.example.net'],
    ]);
    expect(peer.messages).toHaveLength(1);
    expect(peer.messages[0]).toMatchObject({ secure: true, to: ['b@example.com', 'c@unresolvable.example'] });
    expect(dns.queries.map((query) => query.name)).not.toContain('example.com');
  });

  it('defers (not bounces) when the smarthost refuses the credentials', async () => {
    const peer = await relay();
    const result = await agent({
      host: 'relay.example.net',
      port: peer.port,
      auth: { ...credentials, pass: 'wrong' },
    }).deliver({ from: 'a@example.org', to: ['b@example.com'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.0' });
    expect(peer.messages).toHaveLength(0);
  });

  it('defers when the smarthost certificate is not trusted, and never sends the password in clear', async () => {
    const peer = await relay();
    const other = makeCertificates(['relay.example.net']);
    const result = await agent(
      { host: 'relay.example.net', port: peer.port, auth: credentials },
      other.ca.cert,
    ).deliver({ from: 'a@example.org', to: ['b@example.com'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred' });
    expect(peer.messages).toHaveLength(0);
  });

  it('relays without AUTH over opportunistic TLS by default, e.g. to a local relay without STARTTLS', async () => {
    const plain = await startReceiver({});
    receivers.push(plain);
    const result = await agent({ host: '127.0.0.1', port: plain.port }).deliver(
      { from: 'a@example.org', to: ['b@example.com'] },
      message,
    );
    expect(result.recipients[0]!.status).toBe('delivered');
    expect(plain.messages[0]!.secure).toBe(false);
  });

  it('defers rather than send credentials to a smarthost without STARTTLS', async () => {
    const plain = await startReceiver({ auth: credentials });
    receivers.push(plain);
    const result = await agent({ host: '127.0.0.1', port: plain.port, auth: credentials }).deliver(
      { from: 'a@example.org', to: ['b@example.com'] },
      message,
    );
    expect(result.recipients[0]!.status).toBe('deferred');
    expect(plain.messages).toHaveLength(0);
  });
});
