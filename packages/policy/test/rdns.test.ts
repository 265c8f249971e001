import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFcrdns, checkRdns, isPolicyError } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';
import { reverseName } from './helpers/memory-resolver';

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({
    'in-addr.arpa': {},
    'ip6.arpa': {},
    'example.com': {},
    [reverseName('192.0.2.1')]: { PTR: ['mail.example.com.'] },
    [reverseName('192.0.2.2')]: { PTR: ['liar.example.com'] },
    [reverseName('192.0.2.3')]: { timeout: true },
    [reverseName('192.0.2.4')]: { servfail: true },
    [reverseName('192.0.2.5')]: { PTR: ['slow.example.com', 'mail.example.com'] },
    [reverseName('192.0.2.6')]: { PTR: ['slow.example.com'] },
    [reverseName('192.0.2.7')]: { PTR: Array.from({ length: 12 }, (_, i) => `n${i}.example.com`) },
    [reverseName('192.0.2.8')]: { A: ['127.0.0.1'] },
    [reverseName('2001:db8::25')]: { PTR: ['mail.example.com'] },
    'mail.example.com': { A: ['192.0.2.1', '192.0.2.5'], AAAA: ['2001:db8::25'] },
    'liar.example.com': { A: ['198.51.100.1'] },
    'slow.example.com': { timeout: true },
    'n11.example.com': { A: ['192.0.2.7'] },
  });
});
afterAll(async () => {
  await dns?.server.close();
});

describe('checkRdns over the loopback DNS server', () => {
  it('gives the PTR names without trailing dots', async () => {
    const result = await checkRdns('192.0.2.1', { resolver: dns.resolver });
    expect(result).toMatchObject({ result: 'pass', ip: '192.0.2.1', names: ['mail.example.com'] });
  });

  it('looks up IPv6 addresses by nibbles', async () => {
    const result = await checkRdns('2001:0db8:0:0::25', { resolver: dns.resolver });
    expect(result).toMatchObject({ result: 'pass', ip: '2001:db8::25', names: ['mail.example.com'] });
  });

  it('gives none for NXDOMAIN and for NODATA', async () => {
    expect((await checkRdns('192.0.2.99', { resolver: dns.resolver })).result).toBe('none');
    expect((await checkRdns('192.0.2.8', { resolver: dns.resolver })).result).toBe('none');
  });

  it('gives temperror for a timeout and a server failure', async () => {
    const timeout = await checkRdns('192.0.2.3', { resolver: dns.resolver });
    expect(timeout).toMatchObject({ result: 'temperror' });
    expect(timeout.reason).toContain('TIMEOUT');
    expect((await checkRdns('192.0.2.4', { resolver: dns.resolver })).reason).toContain('SERVFAIL');
  });

  it('rejects what is not an IP address', async () => {
    const error = await checkRdns('mail.example.com', { resolver: dns.resolver }).catch((e) => e);
    expect(isPolicyError(error, 'BAD_INPUT')).toBe(true);
  });
});

describe('checkFcrdns over the loopback DNS server', () => {
  it('passes when a PTR name resolves back to the address, in both families', async () => {
    expect(await checkFcrdns('192.0.2.1', { resolver: dns.resolver })).toMatchObject({
      result: 'pass',
      confirmed: ['mail.example.com'],
    });
    expect((await checkFcrdns('2001:db8::25', { resolver: dns.resolver })).result).toBe('pass');
  });

  it('fails when the PTR name resolves elsewhere', async () => {
    const result = await checkFcrdns('192.0.2.2', { resolver: dns.resolver });
    expect(result).toMatchObject({ result: 'fail', names: ['liar.example.com'], confirmed: [] });
  });

  it('passes on a later name when an earlier one times out, and temperrors when all do', async () => {
    expect((await checkFcrdns('192.0.2.5', { resolver: dns.resolver })).result).toBe('pass');
    expect((await checkFcrdns('192.0.2.6', { resolver: dns.resolver })).result).toBe('temperror');
  });

  it('follows at most maxNames PTR names', async () => {
    const limited = await checkFcrdns('192.0.2.7', { resolver: dns.resolver });
    expect(limited).toMatchObject({ result: 'fail' });
    expect(limited.names).toHaveLength(12);
    const wider = await checkFcrdns('192.0.2.7', { resolver: dns.resolver, maxNames: 12 });
    expect(wider).toMatchObject({ result: 'pass', confirmed: ['n11.example.com'] });
  });

  it('gives none without PTR and temperror when the PTR lookup fails', async () => {
    expect((await checkFcrdns('192.0.2.99', { resolver: dns.resolver })).result).toBe('none');
    expect((await checkFcrdns('192.0.2.4', { resolver: dns.resolver })).result).toBe('temperror');
  });
});
