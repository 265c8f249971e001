// Every check against every kind of DNS failure the loopback server can give: a failure is
// never read as pass, fail, listed or "no record".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDmarc, checkDnsbl, checkFcrdns, checkRdns, checkSpf, getMtaStsPolicy } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';

const faults = ['timeout', 'servfail', 'refused', 'formerr'] as const;
const fault = (kind: (typeof faults)[number]) => ({ [kind]: true });

let dns: LoopbackDns;
beforeAll(async () => {
  const zones: Record<string, object> = { 'example.com': {}, 'in-addr.arpa': {}, 'bl.example.com': {} };
  faults.forEach((kind, index) => {
    zones[`${kind}.example.com`] = fault(kind);
    zones[`_dmarc.${kind}.example.com`] = fault(kind);
    zones[`_mta-sts.${kind}.example.com`] = fault(kind);
    zones[`${index + 1}.2.0.192.in-addr.arpa`] = fault(kind);
    zones[`${index + 1}.2.0.192.bl.example.com`] = fault(kind);
  });
  dns = await startLoopbackDns(zones);
});
afterAll(async () => {
  await dns?.server.close();
});

describe('DNS failures over the loopback server', { timeout: 15_000 }, () => {
  faults.forEach((kind, index) => {
    const ip = `192.0.2.${index + 1}`;
    const code = kind.toUpperCase();

    it(`SPF: ${code} is temperror`, async () => {
      const result = await checkSpf(
        { ip, helo: 'h.example', sender: `a@${kind}.example.com` },
        { resolver: dns.resolver },
      );
      expect(result.result).toBe('temperror');
    });

    it(`rDNS and FCrDNS: ${code} is temperror`, async () => {
      expect((await checkRdns(ip, { resolver: dns.resolver })).result).toBe('temperror');
      expect((await checkFcrdns(ip, { resolver: dns.resolver })).result).toBe('temperror');
    });

    it(`DNSBL: ${code} is no answer, never listed`, async () => {
      const result = await checkDnsbl(ip, ['bl.example.com'], { resolver: dns.resolver });
      expect(result).toMatchObject({ listed: false, zones: [{ status: 'no-answer', error: `DNS ${code}` }] });
    });

    it(`DMARC: ${code} is temperror`, async () => {
      const result = await checkDmarc({ from: `a@${kind}.example.com`, dkimDomains: [] }, { resolver: dns.resolver });
      expect(result.result).toBe('temperror');
    });

    it(`MTA-STS: ${code} is an error, not "no policy"`, async () => {
      const result = await getMtaStsPolicy(`${kind}.example.com`, {
        resolver: dns.resolver,
        fetch: async () => {
          throw new Error('must not fetch');
        },
      });
      expect(result.status).toBe('error');
    });
  });
});
