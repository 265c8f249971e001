import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDmarc } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({
    'example.com': { A: ['192.0.2.1'] },
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; pct=50'] },
    'sub.example.com': { A: ['192.0.2.2'] },
    'example.org': {},
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=quarantine'] },
    'example.net': {},
    '_dmarc.slow.example.net': { timeout: true },
  });
});
afterAll(async () => {
  await dns?.server.close();
});

describe('checkDmarc over the loopback DNS server', () => {
  const resolver = () => dns.resolver;

  it('passes with relaxed SPF alignment on a subdomain', async () => {
    const result = await checkDmarc(
      { from: 'a@example.org', spfDomain: 'bounces.example.org', dkimDomains: [] },
      { resolver: resolver() },
    );
    expect(result).toMatchObject({
      result: 'pass',
      policy: 'quarantine',
      disposition: 'none',
      alignment: { spf: 'bounces.example.org' },
    });
  });

  it('applies strict DKIM alignment (adkim=s)', async () => {
    const strict = await checkDmarc(
      { from: 'a@example.com', dkimDomains: ['mail.example.com'] },
      { resolver: resolver(), random: () => 0 },
    );
    expect(strict).toMatchObject({ result: 'fail', policy: 'reject' });
    const exact = await checkDmarc({ from: 'a@example.com', dkimDomains: ['example.com'] }, { resolver: resolver() });
    expect(exact.result).toBe('pass');
  });

  it('uses sp= for an existing subdomain and np= for a non-existent one', async () => {
    const sub = await checkDmarc(
      { from: 'a@sub.example.com', dkimDomains: [] },
      { resolver: resolver(), random: () => 0 },
    );
    expect(sub).toMatchObject({
      result: 'fail',
      orgDomain: 'example.com',
      policy: 'quarantine',
      disposition: 'quarantine',
    });
    const ghost = await checkDmarc(
      { from: 'a@ghost.example.com', dkimDomains: [] },
      { resolver: resolver(), random: () => 0 },
    );
    expect(ghost).toMatchObject({ result: 'fail', policy: 'reject', disposition: 'reject' });
  });

  it('samples by pct=: a message outside the sample gets the next policy down', async () => {
    const sampled = await checkDmarc(
      { from: 'a@example.com', dkimDomains: [] },
      { resolver: resolver(), random: () => 0.2 },
    );
    expect(sampled).toMatchObject({ pct: 50, disposition: 'reject' });
    const spared = await checkDmarc(
      { from: 'a@example.com', dkimDomains: [] },
      { resolver: resolver(), random: () => 0.7 },
    );
    expect(spared).toMatchObject({ pct: 50, disposition: 'quarantine' });
  });

  it('gives none without a record and temperror when the lookup times out', async () => {
    expect((await checkDmarc({ from: 'a@example.net', dkimDomains: [] }, { resolver: resolver() })).result).toBe(
      'none',
    );
    expect((await checkDmarc({ from: 'a@slow.example.net', dkimDomains: [] }, { resolver: resolver() })).result).toBe(
      'temperror',
    );
  });
});
