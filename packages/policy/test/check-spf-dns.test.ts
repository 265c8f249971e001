import { createResolver } from '@homing/dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpf } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({
    'example.com': {
      TXT: ['v=spf1 mx a:relay.example.com include:_spf.example.net -all'],
      MX: [{ priority: 10, exchange: 'mx.example.com' }],
    },
    'mx.example.com': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'] },
    'relay.example.com': { CNAME: ['host.example.com'] },
    'host.example.com': { A: ['192.0.2.2'] },
    'example.net': {},
    '_spf.example.net': { TXT: [['v=spf1 ip4:198.51.100.0/24', ' ip6:2001:db8:1::/48 ~all']] },
    'timeout.example.net': { timeout: true },
    'servfail.example.net': { servfail: true },
    'refused.example.net': { refused: true },
    'formerr.example.net': { formerr: true },
    'inc.example.net': { TXT: ['v=spf1 include:servfail.example.net -all'] },
  });
});
afterAll(async () => {
  await dns?.server.close();
});

describe('checkSpf over the loopback DNS server', () => {
  it('matches mx, a through a CNAME, and an include split over character-strings', async () => {
    const check = (ip: string) =>
      checkSpf({ ip, helo: 'h.example', sender: 'a@example.com' }, { resolver: dns.resolver });
    expect(await check('192.0.2.1')).toMatchObject({ result: 'pass', mechanism: 'mx' });
    expect(await check('2001:db8::1')).toMatchObject({ result: 'pass', mechanism: 'mx' });
    expect(await check('192.0.2.2')).toMatchObject({ result: 'pass', mechanism: 'a:relay.example.com' });
    expect(await check('198.51.100.9')).toMatchObject({ result: 'pass', mechanism: 'include:_spf.example.net' });
    expect(await check('203.0.113.1')).toMatchObject({ result: 'fail', mechanism: '-all' });
  });

  it('gives temperror for each kind of DNS failure', async () => {
    for (const domain of ['timeout', 'servfail', 'refused', 'formerr', 'inc']) {
      const result = await checkSpf(
        { ip: '192.0.2.1', helo: 'h.example', sender: `a@${domain}.example.net` },
        { resolver: dns.resolver },
      );
      expect(result.result, domain).toBe('temperror');
    }
  });

  it('gives temperror when the whole evaluation passes its time limit', async () => {
    const patient = createResolver({ servers: [dns.server.address], timeoutMs: 5000, tries: 2, cache: false });
    const started = Date.now();
    const result = await checkSpf(
      { ip: '192.0.2.1', helo: 'h.example', sender: 'a@timeout.example.net' },
      { resolver: patient, timeoutMs: 300 },
    );
    expect(result.result).toBe('temperror');
    expect(result.reason).toContain('longer than 300 ms');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
