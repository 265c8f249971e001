import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver, type Resolver } from '@homing/dns';
import { type DnsServer, startDnsServer, type Zones } from '@homing/dns/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpfRecord, checkTlsRpt } from '../../src/setup/auth-checks';
import { checkDnsblListing } from '../../src/setup/dnsbl-check';
import type { DoctorCheck } from '../../src/setup/doctor-types';
import { auditChecks } from '../../src/setup/domain-audit';
import { checkHelo, checkReverse } from '../../src/setup/host-checks';
import { gradeProviders } from '../../src/setup/provider-grades';
import { withMoreChecks } from '../../src/setup/run-doctor';
import { runQuickstart } from '../../src/setup/run-quickstart';
import { checkTlsa, tlsaFor } from '../../src/setup/tls-checks';
import { quoteTxt, reverseName, zoneLine } from '../../src/setup/zone-lines';
import { domain, goodZones, hostname, makePki, ptr4, type TestPki } from './fixtures';

describe('zone lines', () => {
  it('names the reverse zone of IPv4, compressed IPv6 and IPv4-mapped IPv6 addresses', () => {
    expect(reverseName('192.0.2.7')).toBe('7.2.0.192.in-addr.arpa');
    expect(reverseName('2001:db8::7')).toBe(`7.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`);
    expect(reverseName('::ffff:192.0.2.1')).toBe(`1.0.2.0.0.0.0.c.f.f.f.f.${'0.'.repeat(19)}0.ip6.arpa`);
    expect(() => reverseName('mail.example.org')).toThrow(/not an IP address/);
  });

  it('cuts a long TXT value into 255-octet strings and quotes each', () => {
    const value = 'x'.repeat(300);
    expect(quoteTxt(value)).toBe(`"${'x'.repeat(255)}" "${'x'.repeat(45)}"`);
    expect(quoteTxt('say "hi"')).toBe('"say \\"hi\\""');
    expect(zoneLine('example.org.', 'MX', '10 mx.example.org.')).toBe('example.org. 3600 IN MX 10 mx.example.org.');
  });
});

// The checks one by one against the loopback DNS server, in-process (doctor.test.ts runs the command).
describe('doctor checks', () => {
  let dns: DnsServer;
  let resolver: Resolver;
  let pki: TestPki;
  const zones = (extra: Zones): Zones => ({ ...goodZones('v=DKIM1; k=rsa; p=AAAA'), ...extra });
  const use = (z: Zones) => {
    dns.setZones(z);
    resolver = createResolver({ servers: [dns.address], cache: false });
  };

  beforeAll(async () => {
    dns = await startDnsServer({ zones: zones({}) });
    pki = await makePki();
  }, 30_000);
  afterAll(async () => {
    await dns.close();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('spf: a record ending in +all is an error even though it passes, and the fix ends in -all', async () => {
    use(
      zones({ [domain]: { MX: [{ priority: 10, exchange: hostname }], TXT: ['v=spf1 ip4:127.0.0.1 ip6:::1 +all'] } }),
    );
    const check = await checkSpfRecord(resolver, domain, hostname, ['127.0.0.1', '::1']);
    expect(check).toMatchObject({ name: 'spf', status: 'error' });
    expect(check.message).toMatch(/\+all, which lets anyone send as you/);
    expect(check.record).toBe(`${domain}. 3600 IN TXT "v=spf1 ip4:127.0.0.1 ip6:::1 -all"`);
  });

  it('helo: a PTR naming another host that resolves back passes fcrdns, but not helo', async () => {
    use(zones({ [ptr4]: { PTR: ['host-7.provider.org'] }, 'host-7.provider.org': { A: ['127.0.0.1'] } }));
    const reverse = await checkReverse(resolver, hostname, '127.0.0.1');
    expect(reverse.checks.map((check) => check.status)).toEqual(['ok', 'ok']);
    const helo = checkHelo(hostname, ['127.0.0.1'], reverse.confirmed);
    expect(helo.status).toBe('error');
    expect(helo.message).toMatch(/we say HELO mx\.example\.org, but 127\.0\.0\.1 is host-7\.provider\.org/);
    expect(helo.record).toBe(`${ptr4}. 3600 IN PTR ${hostname}.`);
  });

  it('mx: a hostname that is a CNAME is an error, fixed by address records', async () => {
    use({ ...zones({}), [hostname]: { CNAME: ['box.example.org'] }, 'box.example.org': { A: ['127.0.0.1'] } });
    const checks = await auditChecks({ domain, hostname, ips: ['127.0.0.1'], selector: 'homing', resolver });
    const mx = checks.find((check) => check.name === 'mx');
    expect(mx?.status).toBe('error');
    expect(mx?.message).toMatch(/is a CNAME to box\.example\.org/);
    expect(mx?.record).toBe(`${hostname}. 3600 IN A 127.0.0.1`);
  });

  it('dkim: a 1024-bit key that matches is a warning that says to make a 2048-bit one', async () => {
    const { generateKey, describeKey } = await import('@homing/dkim');
    const key = describeKey(generateKey({ bits: 1024 }).privateKey);
    use(goodZones(key.record));
    const checks = await auditChecks({
      domain,
      hostname,
      ips: ['127.0.0.1'],
      selector: 'homing',
      resolver,
      dkimKey: { publicKey: key.publicKey, algorithm: 'rsa', bits: 1024 },
      mtaStsPort: 1,
    });
    const dkim = checks.find((check) => check.name === 'dkim');
    expect(dkim?.status).toBe('warn');
    expect(dkim?.message).toMatch(/our key has 1024 bits: make a 2048-bit one/);
  });

  it('tls-rpt: missing is a warning with the record; a rua that is no URI is an error', async () => {
    const without = zones({});
    delete without[`_smtp._tls.${domain}`];
    use(without);
    expect(await checkTlsRpt(resolver, domain)).toMatchObject({
      status: 'warn',
      record: `_smtp._tls.${domain}. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@${domain}"`,
    });
    use(zones({ [`_smtp._tls.${domain}`]: { TXT: ['v=TLSRPTv1; rua=tls-reports'] } }));
    expect((await checkTlsRpt(resolver, domain)).status).toBe('error');
  });

  it('tlsa: applies only to a signed zone, where it must match the certificate', async () => {
    const certificate = new X509Certificate(pki.good.cert);
    const other = new X509Certificate(pki.expired.cert);
    use(zones({}));
    expect((await checkTlsa(resolver, domain, hostname, certificate)).status).toBe('ok');
    const signed = (tlsa?: string): Zones => {
      const z = zones({});
      z[domain] = { ...z[domain], authenticated: true };
      if (tlsa) {
        const [usage, selector, matchingType, data] = tlsa.split(' ');
        z[`_25._tcp.${hostname}`] = {
          TLSA: [
            {
              usage: Number(usage),
              selector: Number(selector),
              matchingType: Number(matchingType),
              data: data as string,
            },
          ],
          authenticated: true,
        };
      }
      return z;
    };
    use(signed());
    const missing = await checkTlsa(resolver, domain, hostname, certificate);
    expect(missing.status).toBe('warn');
    expect(missing.record).toBe(`_25._tcp.${hostname}. 3600 IN TLSA ${tlsaFor(certificate)}`);
    use(signed(tlsaFor(certificate)));
    expect((await checkTlsa(resolver, domain, hostname, certificate)).status).toBe('ok');
    use(signed(tlsaFor(other)));
    const wrong = await checkTlsa(resolver, domain, hostname, certificate);
    expect(wrong.status).toBe('error');
    expect(wrong.record).toBe(`_25._tcp.${hostname}. 3600 IN TLSA ${tlsaFor(certificate)}`);
  });

  it('dnsbl: a listing is an error naming the zone and its meaning', async () => {
    use(
      zones({
        test: { SOA: { mname: 'ns.test', rname: 'h.test' } },
        '1.0.0.127.bl.test': { A: ['127.0.0.2'], TXT: ['listed for spam'] },
      }),
    );
    const check = await checkDnsblListing(resolver, '127.0.0.1', ['bl.test']);
    expect(check).toMatchObject({ name: 'dnsbl', status: 'error', ip: '127.0.0.1' });
    expect(check.message).toMatch(/listed by bl\.test .*listed for spam/);
    use(zones({ test: { SOA: { mname: 'ns.test', rname: 'h.test' } } }));
    expect((await checkDnsblListing(resolver, '127.0.0.1', ['bl.test'])).status).toBe('ok');
  });

  it('quickstart prints a TLSA record only when the zone is DNSSEC-signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homing-quickstart-unit-'));
    try {
      use({ ...zones({}), [domain]: { A: ['127.0.0.1'], authenticated: true } });
      const result = await runQuickstart({
        address: `alice@${domain}`,
        hostname,
        ips: ['127.0.0.1'],
        dir,
        cert: pki.good.certPath,
        key: pki.good.keyPath,
        selector: 'homing',
        dnsblZones: [],
        resolver,
        command: 'homing',
      });
      const tlsa = tlsaFor(new X509Certificate(readFileSync(pki.good.certPath)));
      expect(result.records).toContain(`\n_25._tcp.${hostname}. 3600 IN TLSA ${tlsa}\n`);
      expect(result.selfSigned).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('provider grades', () => {
  const ok = (name: string): DoctorCheck => ({ name, status: 'ok', message: '' });
  const all = ['mx', 'a', 'ptr', 'fcrdns', 'helo', 'spf', 'dkim', 'dmarc', 'tls'].map(ok);

  it('grades a failure as an error where the provider asks it of all senders, a warning where only of bulk ones', () => {
    const checks = all.map((check) => (check.name === 'dkim' ? { ...check, status: 'error' as const } : check));
    const grades = gradeProviders(checks, domain);
    const cell = (provider: string, requirement: string) =>
      grades.find((grade) => grade.provider === provider && grade.requirement === requirement)?.status;
    expect(cell('Gmail', 'SPF or DKIM passes')).toBe('ok');
    expect(cell('Gmail', 'SPF and DKIM both pass')).toBe('warn');
    expect(cell('Gmail', 'DKIM key of at least 1024 bits (2048 recommended)')).toBe('error');
    expect(cell('Yahoo', 'DKIM key of at least 1024 bits (2048 recommended)')).toBe('warn');
    expect(cell('Microsoft', 'DKIM key of at least 1024 bits (2048 recommended)')).toBeUndefined();
    expect(cell('Microsoft', 'spam complaint rate under 0.3% (0.1% recommended)')).toBeUndefined();
    expect(cell('Gmail', 'spam complaint rate under 0.3% (0.1% recommended)')).toBe('not-checkable');
  });

  it('reads a `send` check appended to the list for the RFC 5322 row', () => {
    const format = 'RFC 5322 format (one From, Message-ID, single-instance headers once)';
    expect(gradeProviders(all, domain).find((grade) => grade.requirement === format)?.status).toBe('not-checkable');
    const report = { domain, checks: all, providers: gradeProviders(all, domain) };
    const sent = withMoreChecks(report, [{ name: 'send', status: 'error', message: 'two From: headers' }]);
    expect(sent.checks.at(-1)?.name).toBe('send');
    expect(sent.providers.find((grade) => grade.requirement === format && grade.provider === 'Gmail')?.status).toBe(
      'error',
    );
  });

  it('fails the gmail.com impersonation row for a gmail.com domain only', () => {
    const row = 'no impersonation of gmail.com in From:';
    expect(gradeProviders(all, 'gmail.com').find((grade) => grade.requirement === row)?.status).toBe('error');
    expect(gradeProviders(all, domain).find((grade) => grade.requirement === row)?.status).toBe('ok');
  });
});
