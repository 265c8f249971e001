import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, isDnsError } from '../src/index';
import { type DnsServer, startDnsServer, type Zones } from '../src/testing';

let server: DnsServer;
let zones: Zones;
beforeAll(async () => {
  zones = {
    'example.com': {
      A: ['127.0.0.1'],
      ttl: 120,
      SOA: { mname: 'ns.example.com', rname: 'hostmaster.example.com', minimum: 30 },
    },
    'a.example.com': { A: ['127.0.0.2'], ttl: 60 },
    'b.example.com': { A: ['127.0.0.3'], ttl: 60 },
    'c.example.com': { A: ['127.0.0.4'], ttl: 60 },
    'zero.example.com': { A: ['127.0.0.5'], ttl: 0 },
    'broken.example.com': { servfail: true },
    'example.net': { A: ['127.0.1.1'], ttl: 50 }, // no SOA given: the server makes one with MINIMUM = 50
    'slow.example.com': { timeout: true },
  };
  server = await startDnsServer({ zones });
});
afterAll(async () => {
  await server.close();
});

function countQueries(name: string): number {
  return server.queries.filter((query) => query.name.toLowerCase() === name).length;
}

function clockedResolver(maxEntries = 100) {
  const clock = { now: 1_000_000 };
  const resolver = createResolver({
    servers: [server.address],
    timeoutMs: 3000,
    tries: 1,
    cache: { maxEntries, now: () => clock.now },
  });
  return { resolver, clock };
}

const failure = async (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('the cache honours TTLs (with an injected clock)', () => {
  it('answers from the cache until the TTL runs out, counting the TTL down', async () => {
    const { resolver, clock } = clockedResolver();
    const before = countQueries('example.com');
    expect((await resolver.resolveA('example.com')).ttl).toBe(120);
    clock.now += 50_000;
    const cached = await resolver.resolveA('example.com');
    expect(cached.ttl).toBe(70);
    expect(cached.records).toEqual(['127.0.0.1']);
    expect(countQueries('example.com') - before).toBe(1);
    clock.now += 70_000; // 120 s after the first answer: expired
    expect((await resolver.resolveA('example.com')).ttl).toBe(120);
    expect(countQueries('example.com') - before).toBe(2);
  });

  it('keys the cache by type and by name without regard to case', async () => {
    const { resolver } = clockedResolver();
    const before = countQueries('a.example.com');
    await resolver.resolveA('a.example.com');
    await resolver.resolveA('A.EXAMPLE.com.');
    expect(countQueries('a.example.com') - before).toBe(1);
    await failure(resolver.resolveMx('a.example.com'));
    expect(countQueries('a.example.com') - before).toBe(2);
  });

  it('does not cache a TTL of zero', async () => {
    const { resolver } = clockedResolver();
    const before = countQueries('zero.example.com');
    await resolver.resolveA('zero.example.com');
    await resolver.resolveA('zero.example.com');
    expect(countQueries('zero.example.com') - before).toBe(2);
  });

  it('gives each caller its own records array', async () => {
    const { resolver } = clockedResolver();
    const first = await resolver.resolveA('b.example.com');
    first.records.push('mutated');
    expect((await resolver.resolveA('b.example.com')).records).toEqual(['127.0.0.3']);
  });
});

describe('negative caching (RFC 2308)', () => {
  it('caches NXDOMAIN for the SOA MINIMUM when it is below the SOA TTL', async () => {
    const { resolver, clock } = clockedResolver();
    const before = countQueries('gone.example.com');
    expect(isDnsError(await failure(resolver.resolveA('gone.example.com')), 'NXDOMAIN')).toBe(true);
    clock.now += 29_000;
    expect(isDnsError(await failure(resolver.resolveA('gone.example.com')), 'NXDOMAIN')).toBe(true);
    expect(countQueries('gone.example.com') - before).toBe(1);
    clock.now += 2_000;
    expect(isDnsError(await failure(resolver.resolveA('gone.example.com')), 'NXDOMAIN')).toBe(true);
    expect(countQueries('gone.example.com') - before).toBe(2);
  });

  it('answers every type from one cached NXDOMAIN for the name (RFC 2308 5)', async () => {
    const { resolver } = clockedResolver();
    const before = countQueries('void.example.com');
    expect(isDnsError(await failure(resolver.resolveA('void.example.com')), 'NXDOMAIN')).toBe(true);
    const txt = await failure(resolver.resolveTxt('Void.Example.com'));
    expect(isDnsError(txt, 'NXDOMAIN')).toBe(true);
    expect((txt as { type: string }).type).toBe('TXT');
    expect(countQueries('void.example.com') - before).toBe(1);
  });

  it('does not spread an NXDOMAIN about a CNAME target to other types of the alias', async () => {
    const { resolver } = clockedResolver();
    server.setZones({ ...zones, 'alias.example.com': { CNAME: ['missing.example.com'] } });
    try {
      expect(isDnsError(await failure(resolver.resolveA('alias.example.com')), 'NXDOMAIN')).toBe(true);
      expect((await resolver.resolveCname('alias.example.com')).records).toEqual(['missing.example.com']);
    } finally {
      server.setZones(zones);
    }
  });

  it('caches NODATA the same way', async () => {
    const { resolver, clock } = clockedResolver();
    const before = countQueries('a.example.com');
    expect(isDnsError(await failure(resolver.resolveTxt('a.example.com')), 'NODATA')).toBe(true);
    clock.now += 20_000;
    expect(isDnsError(await failure(resolver.resolveTxt('a.example.com')), 'NODATA')).toBe(true);
    expect(countQueries('a.example.com') - before).toBe(1);
  });

  it('uses the made-up SOA of a zone without one (MINIMUM = the apex TTL)', async () => {
    const { resolver, clock } = clockedResolver();
    const before = countQueries('none.example.net');
    await failure(resolver.resolveA('none.example.net'));
    clock.now += 49_000;
    await failure(resolver.resolveA('none.example.net'));
    expect(countQueries('none.example.net') - before).toBe(1);
    clock.now += 2_000;
    await failure(resolver.resolveA('none.example.net'));
    expect(countQueries('none.example.net') - before).toBe(2);
  });

  it('does not cache SERVFAIL or TIMEOUT', async () => {
    const { resolver } = clockedResolver();
    const before = countQueries('broken.example.com');
    await failure(resolver.resolveA('broken.example.com'));
    await failure(resolver.resolveA('broken.example.com'));
    expect(countQueries('broken.example.com') - before).toBe(2);
    const slowBefore = countQueries('slow.example.com');
    const quick = createResolver({ servers: [server.address], timeoutMs: 50, tries: 1 });
    await failure(quick.resolveA('slow.example.com'));
    await failure(quick.resolveA('slow.example.com'));
    expect(countQueries('slow.example.com') - slowBefore).toBe(2);
  });
});

describe('the cache is bounded', () => {
  it('drops the least recently used entry when full', async () => {
    const { resolver } = clockedResolver(2);
    const before = countQueries('a.example.com');
    await resolver.resolveA('a.example.com');
    await resolver.resolveA('b.example.com');
    await resolver.resolveA('a.example.com'); // a is now the most recently used
    await resolver.resolveA('c.example.com'); // evicts b
    expect(countQueries('a.example.com') - before).toBe(1);
    const bBefore = countQueries('b.example.com');
    await resolver.resolveA('b.example.com');
    expect(countQueries('b.example.com') - bBefore).toBe(1);
    const aBefore = countQueries('a.example.com');
    await resolver.resolveA('c.example.com');
    await resolver.resolveA('b.example.com');
    expect(countQueries('a.example.com') - aBefore).toBe(0);
  });

  it('keeps an answer at most maxTtl seconds, whatever its TTL', async () => {
    const clock = { now: 0 };
    const resolver = createResolver({
      servers: [server.address],
      timeoutMs: 3000,
      cache: { maxTtl: 10, now: () => clock.now },
    });
    const before = countQueries('example.com');
    expect((await resolver.resolveA('example.com')).ttl).toBe(120);
    clock.now += 9_000;
    expect((await resolver.resolveA('example.com')).ttl).toBe(1);
    clock.now += 1_000;
    await resolver.resolveA('example.com');
    expect(countQueries('example.com') - before).toBe(2);
  });

  it('asks every time when the cache is off', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false });
    const before = countQueries('c.example.com');
    await resolver.resolveA('c.example.com');
    await resolver.resolveA('c.example.com');
    expect(countQueries('c.example.com') - before).toBe(2);
  });
});

describe('concurrent identical queries', () => {
  it('are merged into one query, and each caller gets the answer', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false });
    const before = countQueries('example.com');
    const answers = await Promise.all(Array.from({ length: 20 }, () => resolver.resolveA('example.com')));
    expect(answers.every((answer) => answer.records[0] === '127.0.0.1')).toBe(true);
    expect(countQueries('example.com') - before).toBe(1);
  });

  it('are merged for failures too, each caller getting its own error', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false });
    const before = countQueries('broken.example.com');
    const errors = await Promise.all(Array.from({ length: 5 }, () => failure(resolver.resolveA('broken.example.com'))));
    expect(errors.every((error) => isDnsError(error, 'SERVFAIL'))).toBe(true);
    expect(new Set(errors).size).toBe(5);
    expect(countQueries('broken.example.com') - before).toBe(1);
  });
});
