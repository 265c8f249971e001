import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseHostsFile } from '../src/hosts-file';
import { createDeliveryAgent, createHostsLookup, type DeliveryAgent, resolveHostAddresses } from '../src/index';
import { type Receiver, startReceiver } from './peers';

// Interop run F2: `homing send --smarthost localhost:10026` was deferred with "localhost has no
// usable address", because host names went only to DNS. Names resolve as the system resolves
// them: the hosts file, then localhost (RFC 6761 6.3), then DNS.

let dns: DnsServer;
let dir: string;
let hostsPath: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  // DNS knows the recipient domain's MX name, but not its address, and nothing of localhost.
  dns = await startDnsServer({ zones: { 'example.net': { MX: [{ priority: 10, exchange: 'relay.operator.test' }] } } });
  dir = mkdtempSync(join(tmpdir(), 'homing-hosts-'));
  hostsPath = join(dir, 'hosts');
  writeFileSync(
    hostsPath,
    "# an operator's hosts file\n127.0.0.1\trelay.operator.test relay  # the relay\n::1 six.operator.test\nnot-an-ip bad.operator.test\n",
  );
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await dns.close();
  rmSync(dir, { recursive: true, force: true });
});

const resolver = () => createResolver({ servers: [dns.address], timeoutMs: 500, tries: 1 });

async function receiver(): Promise<Receiver> {
  const peer = await startReceiver();
  cleanups.push(() => peer.close());
  return peer;
}

function agent(options: Parameters<typeof createDeliveryAgent>[0]): DeliveryAgent {
  const created = createDeliveryAgent({ resolver: resolver(), hostname: 'mta.example.org', ...options });
  cleanups.push(() => created.close());
  return created;
}

describe('the hosts file', () => {
  it('parses address, names and aliases; skips comments and lines without an IP', () => {
    const table = parseHostsFile('127.0.0.1 A.example b # c.example\n#10.0.0.1 d\n::1 a.example\nfoo bar\n');
    expect(table.get('a.example')).toEqual(['127.0.0.1', '::1']);
    expect(table.get('b')).toEqual(['127.0.0.1']);
    expect(table.has('c.example')).toBe(false);
    expect(table.has('d')).toBe(false);
    expect(table.has('bar')).toBe(false);
  });

  it('is read again when it changes, and a missing file is an empty table', async () => {
    const path = join(dir, 'changing');
    writeFileSync(path, '127.0.0.2 one.test\n');
    let clock = 0;
    const lookup = createHostsLookup({ path, recheckMs: 1000, now: () => clock });
    expect(await lookup('ONE.test.')).toEqual(['127.0.0.2']);
    writeFileSync(path, '127.0.0.3 one.test\n');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(await lookup('one.test')).toEqual(['127.0.0.2']);
    clock = 1000;
    expect(await lookup('one.test')).toEqual(['127.0.0.3']);
    expect(await createHostsLookup({ path: join(dir, 'absent') })('one.test')).toBeUndefined();
  });
});

describe('resolveHostAddresses: hosts file, then localhost, then DNS', () => {
  it('takes a name from the hosts file without asking DNS', async () => {
    const before = dns.queries.length;
    const found = await resolveHostAddresses('relay.operator.test', resolver(), {
      hosts: createHostsLookup({ path: hostsPath }),
    });
    expect(found).toEqual({ addresses: ['127.0.0.1'], authenticated: false });
    expect(dns.queries.length).toBe(before);
  });

  it('gives localhost as the loopback addresses in the preferred order, even without a hosts file', async () => {
    expect((await resolveHostAddresses('localhost', resolver(), { hosts: false })).addresses).toEqual([
      '::1',
      '127.0.0.1',
    ]);
    const v4 = await resolveHostAddresses('mx.localhost', resolver(), { hosts: false, preference: 'ipv4-only' });
    expect(v4.addresses).toEqual(['127.0.0.1']);
  });

  it('asks DNS for a name the hosts file does not have', async () => {
    const error = await resolveHostAddresses('elsewhere.operator.test', resolver(), {
      hosts: createHostsLookup({ path: hostsPath }),
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'DeliveryError', transient: true });
    expect(dns.queries.some((query) => query.name === 'elsewhere.operator.test')).toBe(true);
  });
});

describe('delivery to names only the system knows', { timeout: 20_000 }, () => {
  it("delivers through smarthost 'localhost:PORT'", async () => {
    const peer = await receiver();
    const result = await agent({ smarthost: { host: 'localhost', port: peer.port } }).deliver(
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: via localhost\r\n\r\nhello\r\n',
    );
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: 'localhost' });
    expect(peer.messages[0]!.data).toContain('Subject: via localhost');
  });

  it('delivers to an MX host named in the hosts file', async () => {
    const peer = await receiver();
    const result = await agent({ port: peer.port, hostsFile: hostsPath, addressPreference: 'ipv4' }).deliver(
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: via the hosts file\r\n\r\nhello\r\n',
    );
    expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: 'relay.operator.test' });
    expect(peer.messages).toHaveLength(1);
  });

  it('with hostsFile false, the MX host goes to DNS only and is deferred', async () => {
    const peer = await receiver();
    const result = await agent({ port: peer.port, hostsFile: false }).deliver(
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: x\r\n\r\nhello\r\n',
    );
    expect(result.recipients[0]!.status).toBe('deferred');
    expect(peer.messages).toHaveLength(0);
  });
});
