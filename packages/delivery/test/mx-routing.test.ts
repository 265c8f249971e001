import { createResolver, DnsError } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { normaliseDomain } from '@homing/smtp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeliveryResolver,
  domainOfAddress,
  isDeliveryError,
  resolveHostAddresses,
  resolveMailRoute,
  toALabelDomain,
} from '../src/index';

let server: DnsServer;
let resolver: DeliveryResolver;

beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'example.com': {
        MX: [
          { priority: 20, exchange: 'backup.example.com' },
          { priority: 10, exchange: 'mx1.example.com' },
          { priority: 10, exchange: 'mx2.example.com' },
        ],
        authenticated: true,
      },
      'mx1.example.com': { A: ['127.0.0.1'], AAAA: ['::1'] },
      'mx2.example.com': { A: ['127.0.0.2'] },
      'implicit.example': { A: ['127.0.0.3'] },
      'nomail.example': { MX: [{ priority: 0, exchange: '.' }] },
      'empty.example': { TXT: ['v=spf1 -all'] },
      'broken.example': { servfail: true },
      'xn--bcher-kva.example': { MX: [{ priority: 5, exchange: 'mx.xn--bcher-kva.example' }] },
    },
  });
  resolver = createResolver({ servers: [server.address], timeoutMs: 500, tries: 1 });
});

afterAll(async () => {
  await server.close();
});

describe('resolveMailRoute over the loopback DNS server', () => {
  it('orders MX hosts by preference and carries the AD bit', async () => {
    const route = await resolveMailRoute('Example.COM.', resolver);
    expect(route.domain).toBe('example.com');
    expect(route.implicit).toBe(false);
    expect(route.authenticated).toBe(true);
    expect(route.exchangers.map((mx) => mx.preference)).toEqual([10, 10, 20]);
    expect(route.exchangers[2]!.host).toBe('backup.example.com');
    expect(new Set(route.exchangers.slice(0, 2).map((mx) => mx.host))).toEqual(
      new Set(['mx1.example.com', 'mx2.example.com']),
    );
  });

  it('puts either equal-preference host first, depending on the random source', async () => {
    const low = await resolveMailRoute('example.com', resolver, { random: () => 0 });
    const high = await resolveMailRoute('example.com', resolver, { random: () => 0.999 });
    expect(low.exchangers[0]!.host).not.toBe(high.exchangers[0]!.host);
  });

  it('uses the domain itself as implicit MX when it has A records but no MX', async () => {
    const route = await resolveMailRoute('implicit.example', resolver);
    expect(route).toMatchObject({ implicit: true, exchangers: [{ host: 'implicit.example', preference: 0 }] });
  });

  it('fails permanently on a null MX (RFC 7505)', async () => {
    const error = await resolveMailRoute('nomail.example', resolver).catch((caught: unknown) => caught);
    expect(isDeliveryError(error, 'NULL_MX')).toBe(true);
    expect(error).toMatchObject({ transient: false, enhanced: '5.1.10' });
  });

  it('fails permanently for a domain that does not exist or has neither MX nor address', async () => {
    const missing = await resolveMailRoute('nope.example.com', resolver).catch((caught: unknown) => caught);
    expect(isDeliveryError(missing, 'NO_SUCH_DOMAIN')).toBe(true);
    const empty = await resolveMailRoute('empty.example', resolver).catch((caught: unknown) => caught);
    expect(isDeliveryError(empty, 'NO_SUCH_DOMAIN')).toBe(true);
  });

  it('defers when the DNS server fails', async () => {
    const error = await resolveMailRoute('broken.example', resolver).catch((caught: unknown) => caught);
    expect(isDeliveryError(error, 'DNS_TEMPORARY')).toBe(true);
    expect(error).toMatchObject({ transient: true });
  });

  it('looks IDN domains up in A-label form', async () => {
    const route = await resolveMailRoute('BÜCHER.example', resolver);
    expect(route.domain).toBe('xn--bcher-kva.example');
    expect(route.exchangers[0]!.host).toBe('mx.xn--bcher-kva.example');
    expect(server.queries.some((query) => query.name === 'xn--bcher-kva.example')).toBe(true);
  });

  it('routes an address literal straight to its address', async () => {
    const route = await resolveMailRoute('[IPv6:::1]', resolver);
    expect(route.exchangers).toEqual([{ host: '::1', preference: 0 }]);
  });
});

describe('resolveHostAddresses', () => {
  it('gives IPv6 then IPv4 by default, and IPv4 first on request', async () => {
    expect((await resolveHostAddresses('mx1.example.com', resolver)).addresses).toEqual(['::1', '127.0.0.1']);
    const v4 = await resolveHostAddresses('mx1.example.com', resolver, { preference: 'ipv4' });
    expect(v4.addresses).toEqual(['127.0.0.1', '::1']);
    const only = await resolveHostAddresses('mx1.example.com', resolver, { preference: 'ipv4-only' });
    expect(only.addresses).toEqual(['127.0.0.1']);
  });

  it('says NO_ROUTE for a host without addresses', async () => {
    const error = await resolveHostAddresses('gone.example.com', resolver).catch((caught: unknown) => caught);
    expect(isDeliveryError(error, 'NO_ROUTE')).toBe(true);
  });
});

describe('names', () => {
  it('converts U-labels to A-labels and rejects malformed names', () => {
    expect(toALabelDomain('bücher.EXAMPLE.')).toBe('xn--bcher-kva.example');
    expect(() => toALabelDomain('bad..example')).toThrow(/not a valid domain/);
    expect(() => toALabelDomain(`${'a'.repeat(64)}.example`)).toThrow(/not a valid domain/);
    expect(() => toALabelDomain('a b.example')).toThrow(/not a valid domain/);
  });

  it('takes the domain after the last @', () => {
    expect(domainOfAddress('"a@b"@example.com')).toBe('example.com');
    expect(() => domainOfAddress('nobody')).toThrow(/local@domain/);
  });
});

describe("one rule per concept: the dependencies' implementations", () => {
  it("toALabelDomain gives @homing/smtp's normaliseDomain, or throws where it gives null", () => {
    for (const name of [
      'Example.COM',
      'bücher.example',
      'a_b.example',
      'bad..example',
      `${'a'.repeat(64)}.example`,
      'x-.example',
    ]) {
      const smtp = normaliseDomain(name);
      if (smtp === null) expect(() => toALabelDomain(name)).toThrow(/not a valid domain/);
      else expect(toALabelDomain(name)).toBe(smtp);
    }
    // Where the old copy disagreed: it took underscores.
    expect(() => toALabelDomain('a_b.example')).toThrow(/not a valid domain/);
  });

  it("reads DNS failures with @homing/dns's isDnsError: only a DnsError NXDOMAIN is permanent", async () => {
    const failing = (error: unknown): DeliveryResolver => ({
      resolveMx: () => Promise.reject(error),
      resolveA: () => Promise.reject(error),
      resolveAaaa: () => Promise.reject(error),
      resolveTlsa: () => Promise.reject(error),
    });
    const real = await resolveMailRoute('x.example', failing(new DnsError('NXDOMAIN', 'no such name'))).catch(
      (e: unknown) => e,
    );
    expect(isDeliveryError(real, 'NO_SUCH_DOMAIN')).toBe(true);
    const lookalike = await resolveMailRoute('x.example', failing({ code: 'NXDOMAIN' })).catch((e: unknown) => e);
    expect(isDeliveryError(lookalike, 'DNS_TEMPORARY')).toBe(true);
  });
});
