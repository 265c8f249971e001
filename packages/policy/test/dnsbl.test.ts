import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDnsbl, isPolicyError } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({
    'zen.spamhaus.org': {},
    'bl.example.net': {},
    'example.net': {},
    '3.2.0.192.slow.example.net': { timeout: true },
    '3.2.0.192.broken.example.net': { servfail: true },
    '3.2.0.192.refusing.example.net': { refused: true },
    // RFC 5782 5: 127.0.0.2 is the test entry every list carries.
    '2.0.0.127.zen.spamhaus.org': {
      A: ['127.0.0.2', '127.0.0.10'],
      TXT: ['https://check.spamhaus.org/query/ip/127.0.0.2'],
    },
    '3.2.0.192.zen.spamhaus.org': { A: ['127.255.255.254'] },
    '3.2.0.192.bl.example.net': { A: ['127.0.0.4'] },
    '4.2.0.192.bl.example.net': { A: ['203.0.113.5'] },
    '5.2.0.192.bl.example.net': { TXT: ['no A record here'] },
    '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example.net': { A: ['127.0.0.2'] },
  });
});
afterAll(async () => {
  await dns?.server.close();
});

describe('checkDnsbl over the loopback DNS server', () => {
  it('reports a Spamhaus listing with the meaning of each code and the TXT reason', async () => {
    const result = await checkDnsbl('127.0.0.2', ['zen.spamhaus.org'], { resolver: dns.resolver });
    expect(result.listed).toBe(true);
    expect(result.zones[0]).toMatchObject({
      zone: 'zen.spamhaus.org',
      query: '2.0.0.127.zen.spamhaus.org',
      status: 'listed',
      reason: 'https://check.spamhaus.org/query/ip/127.0.0.2',
    });
    expect(result.zones[0]?.codes.map((c) => c.meaning)).toEqual([
      expect.stringContaining('SBL'),
      expect.stringContaining('PBL'),
    ]);
  });

  it('never reads the 127.255.255.x error codes or non-127/8 answers as a listing', async () => {
    const refused = await checkDnsbl('192.0.2.3', ['zen.spamhaus.org'], { resolver: dns.resolver });
    expect(refused.listed).toBe(false);
    expect(refused.zones[0]).toMatchObject({ status: 'no-answer' });
    expect(refused.zones[0]?.error).toContain('public or open resolver');
    const odd = await checkDnsbl('192.0.2.4', ['bl.example.net'], { resolver: dns.resolver });
    expect(odd).toMatchObject({ listed: false, zones: [{ status: 'no-answer' }] });
  });

  it('checks several zones at once, with a generic meaning for unknown lists', async () => {
    const result = await checkDnsbl('192.0.2.3', ['zen.spamhaus.org', 'bl.example.net'], { resolver: dns.resolver });
    expect(result.listed).toBe(true);
    expect(result.zones.map((zone) => zone.status)).toEqual(['no-answer', 'listed']);
    expect(result.zones[1]?.codes).toEqual([{ code: '127.0.0.4', meaning: 'listed' }]);
    expect(result.zones[1]?.reason).toBeUndefined();
  });

  it('queries IPv6 addresses by reversed nibbles', async () => {
    const result = await checkDnsbl('2001:db8::25', ['bl.example.net'], { resolver: dns.resolver });
    expect(result.listed).toBe(true);
  });

  it('is not listed on NXDOMAIN or NODATA', async () => {
    const result = await checkDnsbl('192.0.2.5', ['bl.example.net'], { resolver: dns.resolver });
    expect(result).toMatchObject({ listed: false, zones: [{ status: 'not-listed' }] });
    const absent = await checkDnsbl('192.0.2.200', ['bl.example.net'], { resolver: dns.resolver });
    expect(absent.zones[0]?.status).toBe('not-listed');
  });

  it('gives no answer, never listed, for a timeout, SERVFAIL and REFUSED', async () => {
    const result = await checkDnsbl('192.0.2.3', ['slow.example.net', 'broken.example.net', 'refusing.example.net'], {
      resolver: dns.resolver,
    });
    expect(result.listed).toBe(false);
    expect(result.zones.map((zone) => zone.error)).toEqual(['DNS TIMEOUT', 'DNS SERVFAIL', 'DNS REFUSED']);
  });

  it('rejects bad zone names and an empty zone list', async () => {
    for (const zones of [['not a zone'], ['com'], []]) {
      const error = await checkDnsbl('192.0.2.1', zones, { resolver: dns.resolver }).catch((e) => e);
      expect(isPolicyError(error, 'BAD_INPUT'), JSON.stringify(zones)).toBe(true);
    }
  });
});
