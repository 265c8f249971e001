import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { LookupFunction } from 'node:net';
import { makeTestCertificates, type TestCertificates } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditDomain, createHttpsFetcher } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';
import { dkimRecord } from './helpers/signed-message';

const publicKey = readFileSync(new URL('./fixtures/keys/public-rsa.pem', import.meta.url), 'utf8');
const policy = 'version: STSv1\nmode: enforce\nmx: mx.good.example\nmax_age: 604800\n';

let certs: TestCertificates;
let server: Server;
let port: number;
let dns: LoopbackDns;
const toLoopback: LookupFunction = (_host, options, callback) => {
  if ((options as { all?: boolean }).all) {
    (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
      { address: '127.0.0.1', family: 4 },
    ]);
  } else callback(null, '127.0.0.1', 4);
};

beforeAll(async () => {
  certs = makeTestCertificates(['mta-sts.good.example', 'mta-sts.bare.example']);
  server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    if (req.headers.host?.startsWith('mta-sts.good.example'))
      res.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  dns = await startLoopbackDns({
    'good.example': { MX: [{ priority: 10, exchange: 'mx.good.example' }], TXT: ['v=spf1 mx -all'] },
    'mx.good.example': { A: ['192.0.2.25'] },
    'in-addr.arpa': {},
    '25.2.0.192.in-addr.arpa': { PTR: ['mx.good.example'] },
    's1._domainkey.good.example': { TXT: [dkimRecord] },
    '_dmarc.good.example': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@good.example'] },
    '_mta-sts.good.example': { TXT: ['v=STSv1; id=1;'] },
    'bare.example': { TXT: ['v=spf1 include:_spf.elsewhere.example -all'] },
    'elsewhere.example': {},
    '_spf.elsewhere.example': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] },
    's1._domainkey.bare.example': { TXT: ['v=DKIM1; k=rsa; p=MIGfMA0GCSqG'] },
    '_dmarc.bare.example': { TXT: ['v=DMARC1; p=none; rua=mailto:reports@elsewhere.example,https://bad'] },
  });
}, 30_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await dns?.server.close();
});

describe('auditDomain over loopback DNS and HTTPS', { timeout: 15_000 }, () => {
  const options = () => ({
    resolver: dns.resolver,
    fetch: createHttpsFetcher({ ca: certs.ca, lookup: toLoopback, port }),
  });

  it('finds nothing wrong with a domain that is set up right', async () => {
    const result = await auditDomain(
      {
        domain: 'good.example',
        hostname: 'mx.good.example',
        ip: '192.0.2.25',
        dkimSelectors: [{ selector: 's1', publicKey }],
      },
      options(),
    );
    expect(result.findings.filter((finding) => finding.status !== 'ok')).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.findings.map((finding) => finding.check)).toEqual([
      'mx',
      'address',
      'rdns',
      'fcrdns',
      'spf',
      'dkim',
      'dmarc',
      'mta-sts',
    ]);
  });

  it('gives the exact record to publish for each problem', async () => {
    const result = await auditDomain(
      { domain: 'bare.example', hostname: 'mx.bare.example', ip: '198.51.100.7', dkimSelectors: ['s1', 's2'] },
      options(),
    );
    expect(result.ok).toBe(false);
    const find = (check: string) => result.findings.filter((finding) => finding.check === check);
    expect(find('mx')[0]?.publish).toEqual([{ name: 'bare.example', type: 'MX', value: '10 mx.bare.example.' }]);
    expect(find('address')[0]?.publish).toEqual([{ name: 'mx.bare.example', type: 'A', value: '198.51.100.7' }]);
    expect(find('rdns')[0]?.publish).toEqual([
      { name: '7.100.51.198.in-addr.arpa', type: 'PTR', value: 'mx.bare.example.' },
    ]);
    expect(find('fcrdns')[0]?.status).toBe('error');
    expect(find('spf')[0]?.publish).toEqual([
      { name: 'bare.example', type: 'TXT', value: 'v=spf1 ip4:198.51.100.7 include:_spf.elsewhere.example -all' },
    ]);
    expect(find('dkim').map((finding) => finding.message)).toEqual([
      expect.stringContaining('not an RSA public key'),
      expect.stringContaining('no DKIM key at s2._domainkey.bare.example'),
    ]);
    expect(find('dkim')[1]?.publish?.[0]).toMatchObject({ name: 's2._domainkey.bare.example', type: 'TXT' });
    const dmarc = find('dmarc');
    expect(dmarc).toContainEqual(
      expect.objectContaining({
        status: 'warning',
        publish: [{ name: 'bare.example._report._dmarc.elsewhere.example', type: 'TXT', value: 'v=DMARC1' }],
      }),
    );
    expect(dmarc).toContainEqual(
      expect.objectContaining({ status: 'error', message: expect.stringContaining('https://bad') }),
    );
    const sts = find('mta-sts')[0];
    expect(sts).toMatchObject({
      status: 'warning',
      serve: { url: 'https://mta-sts.bare.example/.well-known/mta-sts.txt' },
    });
    expect(sts?.serve?.body).toContain('mx: mx.bare.example');
    expect(sts?.publish?.[0]?.value).toMatch(/^v=STSv1; id=\d{14}$/);
  });

  it('rejects a bad address', async () => {
    await expect(
      auditDomain({ domain: 'good.example', hostname: 'mx.good.example', ip: 'x', dkimSelectors: [] }, options()),
    ).rejects.toThrow(/not an IPv4 or IPv6 address/);
  });
});
