import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer, type Zones } from '@homing/dns/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent, type DeliveryOptions, deliver } from '../src/index';
import { type Receiver, startReceiver } from './peers';

let dns: DnsServer;
const receivers: Receiver[] = [];
const agents: DeliveryAgent[] = [];

const zones = (extra: Zones = {}): Zones => ({
  'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
  'mx.example.net': { A: ['127.0.0.1'] },
  // The first MX points at an address where nothing listens: delivery must fall back to the second.
  'fallback.example': {
    MX: [
      { priority: 5, exchange: 'dead.fallback.example' },
      { priority: 10, exchange: 'live.fallback.example' },
    ],
  },
  'dead.fallback.example': { A: ['127.0.0.2'] },
  'live.fallback.example': { A: ['127.0.0.1'] },
  'implicit.example': { A: ['127.0.0.1'] },
  'six.example': { MX: [{ priority: 10, exchange: 'mx.six.example' }] },
  'mx.six.example': { AAAA: ['::1'] },
  'nomail.example': { MX: [{ priority: 0, exchange: '.' }] },
  'broken.example': { servfail: true },
  ...extra,
});

beforeAll(async () => {
  dns = await startDnsServer({ zones: zones() });
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});
afterAll(async () => {
  await dns.close();
});

async function receiver(options: Parameters<typeof startReceiver>[0] = {}): Promise<Receiver> {
  const started = await startReceiver(options);
  receivers.push(started);
  return started;
}

function agent(port: number, options: Partial<DeliveryOptions> = {}): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address], timeoutMs: 1000, tries: 1 }),
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

const message = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nHello there.\r\n';

describe('deliver over loopback DNS to a real SMTP receiver', { timeout: 30_000 }, () => {
  it('delivers to the MX host and reports each recipient with the remote reply', async () => {
    const peer = await receiver();
    const result = await agent(peer.port).deliver(
      { from: 'a@example.org', to: ['b@example.net', 'c@example.net'] },
      message,
    );
    expect(result.recipients.map((r) => [r.recipient, r.status])).toEqual([
      ['b@example.net', 'delivered'],
      ['c@example.net', 'delivered'],
    ]);
    expect(result.recipients[0]!.remoteReply?.code).toBe(250);
    expect(result.recipients[0]!.mx).toBe('mx.example.net');
    expect(peer.messages).toHaveLength(1);
    expect(peer.messages[0]!.to).toEqual(['b@example.net', 'c@example.net']);
    expect(peer.messages[0]!.data).toContain('Hello there.');
  });

  it('classifies per-recipient refusals: 4xx deferred, 5xx failed, others delivered', async () => {
    const peer = await receiver({
      rcpt: (address) =>
        address.startsWith('busy')
          ? { code: 452, message: 'Mailbox busy, try later' }
          : address.startsWith('gone')
            ? { code: 550, message: 'No such user' }
            : undefined,
    });
    const result = await agent(peer.port).deliver(
      { from: 'a@example.org', to: ['ok@example.net', 'busy@example.net', 'gone@example.net'] },
      message,
    );
    expect(result.recipients.map((r) => r.status)).toEqual(['delivered', 'deferred', 'failed']);
    expect(result.recipients[1]!.remoteReply?.code).toBe(452);
    expect(result.recipients[2]!.remoteReply?.code).toBe(550);
    expect(result.recipients[2]!.enhanced.startsWith('5.')).toBe(true);
    expect(peer.messages[0]!.to).toEqual(['ok@example.net']);
  });

  it('falls back to the next MX when the preferred one does not answer', async () => {
    const peer = await receiver();
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['x@fallback.example'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: 'live.fallback.example' });
  });

  it('delivers over IPv6 to an MX host that has only an AAAA record', async () => {
    const peer = await receiver({ host: '::1' });
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['x@six.example'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: 'mx.six.example' });
    expect(peer.messages).toHaveLength(1);
  });

  it('delivers to the domain itself when it has no MX (implicit MX)', async () => {
    const peer = await receiver();
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['x@implicit.example'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: 'implicit.example' });
  });

  it('fails a null-MX domain without connecting, and defers on a DNS failure', async () => {
    const peer = await receiver();
    const result = await agent(peer.port).deliver(
      { from: 'a@example.org', to: ['x@nomail.example', 'y@broken.example', 'z@nowhere.example.net'] },
      message,
    );
    expect(result.recipients.map((r) => [r.status, r.enhanced])).toEqual([
      ['failed', '5.1.10'],
      ['deferred', '4.4.3'],
      ['failed', '5.1.2'],
    ]);
    expect(peer.connections()).toBe(0);
  });

  it('defers every recipient when no MX host can be reached', async () => {
    const peer = await receiver();
    await peer.close();
    receivers.splice(receivers.indexOf(peer), 1);
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.4.1' });
    expect(result.recipients[0]!.reason).toMatch(/connect/i);
  });

  it('reuses one session for several messages to the same host', async () => {
    const peer = await receiver();
    const delivering = agent(peer.port);
    for (let index = 0; index < 3; index += 1) {
      const result = await delivering.deliver({ from: 'a@example.org', to: [`r${index}@example.net`] }, message);
      expect(result.recipients[0]!.status).toBe('delivered');
    }
    expect(peer.messages).toHaveLength(3);
    expect(peer.connections()).toBe(1);
    expect(new Set(peer.messages.map((m) => m.sessionId)).size).toBe(1);
  });

  it('opens a new session after maxMessagesPerConnection', async () => {
    const peer = await receiver();
    const delivering = agent(peer.port, { maxMessagesPerConnection: 2 });
    for (let index = 0; index < 5; index += 1) {
      await delivering.deliver({ from: 'a@example.org', to: [`r${index}@example.net`] }, message);
    }
    expect(peer.messages).toHaveLength(5);
    expect(peer.connections()).toBe(3);
  });

  it('keeps to the per-domain concurrency limit', async () => {
    const peer = await receiver({ dataDelayMs: 100 });
    const delivering = agent(peer.port, { maxConnectionsPerDomain: 2 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        delivering.deliver({ from: 'a@example.org', to: [`r${index}@example.net`] }, message),
      ),
    );
    expect(results.every((result) => result.recipients[0]!.status === 'delivered')).toBe(true);
    expect(peer.maxConcurrent()).toBe(2);
  });

  it('keeps to the global connection limit across domains', async () => {
    const peer = await receiver({ dataDelayMs: 100 });
    const delivering = agent(peer.port, { maxConnections: 1 });
    const results = await Promise.all([
      delivering.deliver({ from: 'a@example.org', to: ['r@example.net'] }, message),
      delivering.deliver({ from: 'a@example.org', to: ['r@implicit.example'] }, message),
      delivering.deliver({ from: 'a@example.org', to: ['r@fallback.example'] }, message),
    ]);
    expect(results.map((result) => result.recipients[0]!.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(peer.maxConcurrent()).toBe(1);
  });

  it('fails a message over the server SIZE limit before sending it (RFC 1870)', async () => {
    const peer = await receiver({ size: 1000 });
    const big = `Subject: big\r\n\r\n${'x'.repeat(5000)}\r\n`;
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, big);
    expect(result.recipients[0]).toMatchObject({ status: 'failed', enhanced: '5.3.4' });
    expect(peer.messages).toHaveLength(0);
  });

  it('fails an internationalized address when the server lacks SMTPUTF8 (RFC 6531)', async () => {
    const peer = await receiver({ smtputf8: false });
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['josé@example.net'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'failed', enhanced: '5.6.7' });
    expect(peer.messages).toHaveLength(0);
  });

  it('fails an address that is not local@domain without touching the network', async () => {
    const peer = await receiver();
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['nobody', 'b@example.net'] }, message);
    expect(result.recipients.map((r) => r.status)).toEqual(['failed', 'delivered']);
  });

  it('delivers with the one-shot deliver() and closes its session', async () => {
    const peer = await receiver();
    const result = await deliver({ from: '', to: ['b@example.net'] }, message, {
      resolver: createResolver({ servers: [dns.address] }),
      hostname: 'mta.example.org',
      port: peer.port,
      addressPreference: 'ipv4',
    });
    expect(result.recipients[0]!.status).toBe('delivered');
    expect(peer.messages[0]!.from).toBe('');
  });

  it('defers deliveries after close()', async () => {
    const peer = await receiver();
    const delivering = agent(peer.port);
    await delivering.close();
    const result = await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.3.2' });
  });
});

describe('deliver: recipients and addresses', { timeout: 30_000 }, () => {
  it('splits a domain with more recipients than maxRecipientsPerMessage into several transactions', async () => {
    const peer = await receiver();
    const to = Array.from({ length: 5 }, (_, index) => `r${index}@example.net`);
    const result = await agent(peer.port, { maxRecipients: 2 }).deliver({ from: 'a@example.org', to }, message);
    expect(result.recipients.every((r) => r.status === 'delivered')).toBe(true);
    expect(peer.messages.map((m) => m.to.length).sort()).toEqual([1, 2, 2]);
  });

  it('delivers to an address literal without an MX lookup (RFC 5321 4.1.3)', async () => {
    const peer = await receiver();
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['postmaster@[127.0.0.1]'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: '127.0.0.1' });
  });

  it('asks no MTA-STS policy for an address literal (RFC 8461 is about domains)', async () => {
    const peer = await receiver();
    const asked: string[] = [];
    const policies = async (domain: string) => {
      asked.push(domain);
      return null;
    };
    const result = await agent(peer.port, { mtaSts: policies }).deliver(
      { from: 'a@example.org', to: ['postmaster@[127.0.0.1]', 'user@example.net'] },
      message,
    );
    expect(result.recipients.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(asked).toEqual(['example.net']);
  });

  // With no options but a port, the agent makes its own resolver and MTA-STS source; an address
  // literal needs neither, so this touches no DNS server at all.
  it('works with no resolver given: its own defaults, and none is used for an address literal', async () => {
    const peer = await receiver();
    const own = createDeliveryAgent({ port: peer.port, hostname: 'mta.example.org', addressPreference: 'ipv4' });
    agents.push(own);
    const result = await own.deliver({ from: 'a@example.org', to: ['postmaster@[127.0.0.1]'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: '127.0.0.1' });
    expect(peer.messages).toHaveLength(1);
  });
});
