import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, isDnsError, isTemporaryDnsError } from '../src/index';
import { type DnsServer, startDnsServer } from '../src/testing';

const TLSA_HEX = 'aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899';

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'example.com': {
        MX: [
          { priority: 20, exchange: 'mx2.example.com' },
          { priority: 10, exchange: 'mx.example.com' },
        ],
        TXT: ['v=spf1 mx -all', ['v=DKIM1; k=rsa; ', 'p=MIGf']],
        ttl: 600,
      },
      'mx.example.com': { A: ['127.0.0.1', '127.0.0.2'], AAAA: ['2001:db8:0:0:0:0:0:1'], ttl: 120 },
      'www.example.com': { CNAME: ['mx.example.com'], ttl: 60 },
      '_25._tcp.mx.example.com': {
        TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: TLSA_HEX }],
        authenticated: true,
      },
      '1.0.0.127.in-addr.arpa': { PTR: ['mx.example.com'] },
      '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': { PTR: ['v6.example.com'] },
      'broken.example.com': { servfail: true },
      'closed.example.com': { refused: true },
      'picky.example.com': { formerr: true },
      'slow.example.com': { timeout: true },
    },
  });
});
afterAll(async () => {
  await server.close();
});

const resolver = (timeoutMs = 3000) => createResolver({ servers: [server.address], timeoutMs, tries: 1, cache: false });

describe('each record type over a real loopback socket', () => {
  it('resolves A records with their TTL', async () => {
    const answer = await resolver().resolveA('mx.example.com');
    expect(answer).toEqual({
      name: 'mx.example.com',
      records: ['127.0.0.1', '127.0.0.2'],
      ttl: 120,
      authenticated: false,
    });
  });

  it('resolves AAAA records in compressed form', async () => {
    expect((await resolver().resolveAaaa('mx.example.com')).records).toEqual(['2001:db8::1']);
  });

  it('resolves MX records as exchange and priority', async () => {
    const answer = await resolver().resolveMx('example.com');
    expect(answer.records).toEqual([
      { exchange: 'mx2.example.com', priority: 20 },
      { exchange: 'mx.example.com', priority: 10 },
    ]);
    expect(answer.ttl).toBe(600);
  });

  it('joins the character-strings of one TXT record with nothing between them', async () => {
    expect((await resolver().resolveTxt('example.com')).records).toEqual(['v=spf1 mx -all', 'v=DKIM1; k=rsa; p=MIGf']);
  });

  it('resolves PTR records and builds reverse names for IPv4 and IPv6', async () => {
    expect((await resolver().resolvePtr('1.0.0.127.in-addr.arpa')).records).toEqual(['mx.example.com']);
    expect((await resolver().reverse('127.0.0.1')).records).toEqual(['mx.example.com']);
    expect((await resolver().reverse('2001:db8::1')).records).toEqual(['v6.example.com']);
  });

  it('resolves CNAME records, and follows a CNAME to the A records it points at', async () => {
    expect((await resolver().resolveCname('www.example.com')).records).toEqual(['mx.example.com']);
    const a = await resolver().resolveA('www.example.com');
    expect(a.records).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(a.name).toBe('www.example.com');
    expect(a.ttl).toBe(60); // the smallest TTL along the chain
  });

  it('resolves TLSA records with the AD bit', async () => {
    const answer = await resolver().resolveTlsa('_25._tcp.mx.example.com');
    expect(answer.authenticated).toBe(true);
    expect(answer.records).toHaveLength(1);
    const [record] = answer.records;
    expect(record?.usage).toBe(3);
    expect(record?.selector).toBe(1);
    expect(record?.matchingType).toBe(1);
    expect(Buffer.from(record?.data ?? []).toString('hex')).toBe(TLSA_HEX);
  });

  it('matches names without regard to case and accepts a trailing dot', async () => {
    expect((await resolver().resolveA('MX.Example.COM.')).records).toEqual(['127.0.0.1', '127.0.0.2']);
  });
});

describe('each failure kind is a typed DnsError', () => {
  const failure = async (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );

  it('NXDOMAIN for a name under a zone that is not listed', async () => {
    const error = await failure(resolver().resolveA('nothing.example.com'));
    expect(isDnsError(error, 'NXDOMAIN')).toBe(true);
    expect(isTemporaryDnsError(error)).toBe(false);
  });

  it('NODATA for a listed name without the asked type', async () => {
    const error = await failure(resolver().resolveTxt('mx.example.com'));
    expect(isDnsError(error, 'NODATA')).toBe(true);
    expect((error as Error).message).toMatch(/mx\.example\.com has no TXT/);
  });

  it('SERVFAIL, REFUSED and FORMERR as the server answers them, all temporary', async () => {
    for (const [name, code] of [
      ['broken.example.com', 'SERVFAIL'],
      ['closed.example.com', 'REFUSED'],
      ['picky.example.com', 'FORMERR'],
      ['outside.example.org', 'REFUSED'],
    ] as const) {
      const error = await failure(resolver().resolveA(name));
      expect(isDnsError(error, code), `${name} → ${code}: ${String(error)}`).toBe(true);
      expect(isTemporaryDnsError(error)).toBe(true);
    }
  });

  it('TIMEOUT when the server never answers', async () => {
    const started = Date.now();
    const error = await failure(resolver(300).resolveA('slow.example.com'));
    expect(isDnsError(error, 'TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000); // timeoutMs is 300: generous for a loaded machine
  });

  it('tries each try against each server before TIMEOUT', async () => {
    const before = server.queries.filter((query) => query.name === 'slow.example.com').length;
    const twice = createResolver({ servers: [server.address], timeoutMs: 100, tries: 2, cache: false });
    expect(isDnsError(await failure(twice.resolveA('slow.example.com')), 'TIMEOUT')).toBe(true);
    expect(server.queries.filter((query) => query.name === 'slow.example.com').length - before).toBe(2);
  });

  it('moves on to the next server when the first one does not answer in time', async () => {
    const silent = await startDnsServer({ zones: { 'mx.example.com': { timeout: true } } });
    try {
      const both = createResolver({ servers: [silent.address, server.address], timeoutMs: 1000, cache: false });
      expect((await both.resolveA('mx.example.com')).records).toEqual(['127.0.0.1', '127.0.0.2']);
      expect(silent.queries).toHaveLength(1);
    } finally {
      await silent.close();
    }
  });

  it('moves on at once when nothing listens on the first server (ICMP port unreachable)', async () => {
    const { createSocket } = await import('node:dgram');
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const deadAddress = `127.0.0.1:${probe.address().port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const started = Date.now();
    const alone = await createResolver({ servers: [deadAddress], timeoutMs: 20_000, tries: 2, cache: false })
      .resolveA('mx.example.com')
      .catch((error: unknown) => error);
    expect(isDnsError(alone, 'TIMEOUT')).toBe(true);
    expect((alone as Error).message).toMatch(/ECONNREFUSED/);
    const both = createResolver({ servers: [deadAddress, server.address], timeoutMs: 20_000, cache: false });
    expect((await both.resolveA('mx.example.com')).records).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(Date.now() - started).toBeLessThan(10_000); // waiting for the timeout would take 20 s at least
  });

  it('moves on to the next server when the first one fails', async () => {
    const dead = await startDnsServer({ zones: { 'mx.example.com': { servfail: true } } });
    try {
      const both = createResolver({ servers: [dead.address, server.address], timeoutMs: 3000, cache: false });
      expect((await both.resolveA('mx.example.com')).records).toEqual(['127.0.0.1', '127.0.0.2']);
      expect(dead.queries).toHaveLength(1);
    } finally {
      await dead.close();
    }
  });
});
