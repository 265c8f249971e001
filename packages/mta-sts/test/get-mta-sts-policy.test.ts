import { createServer, type Server } from 'node:https';
import type { LookupFunction } from 'node:net';
import { makeTestCertificates, type TestCertificates } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpsFetcher, createMtaStsCache, getMtaStsPolicy, mtaStsAllowsMx } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';

const policyBody = 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n';
let served: { status: number; type: string; body: string; location?: string } = {
  status: 200,
  type: 'text/plain',
  body: policyBody,
};
let requests = 0;
let certs: TestCertificates;
let server: Server;
let port: number;
let dns: LoopbackDns;

// Every host name goes to the loopback HTTPS server: the name checked by TLS is still the real one.
const toLoopback: LookupFunction = (_host, options, callback) => {
  if ((options as { all?: boolean }).all)
    (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
      { address: '127.0.0.1', family: 4 },
    ]);
  else callback(null, '127.0.0.1', 4);
};

beforeAll(async () => {
  certs = makeTestCertificates(['mta-sts.example.com', 'mta-sts.other.example']);
  server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    requests += 1;
    if (req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(served.status, {
      'content-type': served.type,
      ...(served.location ? { location: served.location } : {}),
    });
    res.end(served.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  dns = await startLoopbackDns({
    'example.com': {},
    '_mta-sts.example.com': { TXT: ['v=STSv1; id=20261127;'] },
    'wrongname.example': {},
    '_mta-sts.wrongname.example': { TXT: ['v=STSv1; id=1;'] },
    'nopolicy.example': {},
    'two.example': {},
    '_mta-sts.two.example': { TXT: ['v=STSv1; id=1;', 'v=STSv1; id=2;'] },
    'slow.example': {},
    '_mta-sts.slow.example': { timeout: true },
  });
}, 30_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await dns?.server.close();
});

const fetcher = () => createHttpsFetcher({ ca: certs.ca, lookup: toLoopback, port, timeoutMs: 5000 });

describe('getMtaStsPolicy over loopback DNS and HTTPS', { timeout: 15_000 }, () => {
  it('discovers the id and fetches the policy over HTTPS with the certificate checked', async () => {
    served = { status: 200, type: 'text/plain; charset=utf-8', body: policyBody };
    const result = await getMtaStsPolicy('example.com', { resolver: dns.resolver, fetch: fetcher() });
    expect(result).toMatchObject({
      status: 'policy',
      fromCache: false,
      policy: { id: '20261127', mode: 'enforce', maxAge: 86400 },
    });
    expect(mtaStsAllowsMx(result.policy!, 'mx2.example.net')).toBe(true);
    expect(mtaStsAllowsMx(result.policy!, 'evil.example.org')).toBe(false);
  });

  it('refuses a certificate that does not name mta-sts.DOMAIN, and one from an unknown CA', async () => {
    const wrong = await getMtaStsPolicy('wrongname.example', { resolver: dns.resolver, fetch: fetcher() });
    expect(wrong.status).toBe('error');
    expect(wrong.reason).toMatch(/altnames|does not match|Hostname/i);
    const untrusted = await getMtaStsPolicy('example.com', {
      resolver: dns.resolver,
      fetch: createHttpsFetcher({ lookup: toLoopback, port, timeoutMs: 5000 }),
    });
    expect(untrusted.status).toBe('error');
    expect(untrusted.reason).toMatch(/certificate/i);
  });

  it('does not follow redirects and wants text/plain', async () => {
    served = { status: 301, type: 'text/plain', body: '', location: 'https://mta-sts.example.com/elsewhere' };
    expect((await getMtaStsPolicy('example.com', { resolver: dns.resolver, fetch: fetcher() })).reason).toContain(
      'HTTP 301',
    );
    served = { status: 200, type: 'text/html', body: policyBody };
    expect((await getMtaStsPolicy('example.com', { resolver: dns.resolver, fetch: fetcher() })).reason).toContain(
      'not text/plain',
    );
    served = { status: 200, type: 'text/plain', body: policyBody };
  });

  it('caches by max_age, fetches again when the id changes, and keeps the cache when a refresh fails', async () => {
    const cache = createMtaStsCache();
    let clock = 1_000_000;
    const options = { resolver: dns.resolver, fetch: fetcher(), cache, now: () => clock };
    served = { status: 200, type: 'text/plain', body: policyBody };
    const before = requests;
    expect((await getMtaStsPolicy('example.com', options)).fromCache).toBe(false);
    expect((await getMtaStsPolicy('example.com', options)).fromCache).toBe(true);
    expect(requests - before).toBe(1);

    dns.server.setZones({ 'example.com': {}, '_mta-sts.example.com': { TXT: ['v=STSv1; id=20261128;'] } });
    served = { status: 500, type: 'text/plain', body: '' };
    const failedRefresh = await getMtaStsPolicy('example.com', options);
    expect(failedRefresh).toMatchObject({ status: 'policy', fromCache: true, policy: { id: '20261127' } });
    served = { status: 200, type: 'text/plain', body: policyBody.replace('enforce', 'testing') };
    const refreshed = await getMtaStsPolicy('example.com', options);
    expect(refreshed).toMatchObject({
      status: 'policy',
      fromCache: false,
      policy: { id: '20261128', mode: 'testing' },
    });

    dns.server.setZones({ 'example.com': {} });
    expect((await getMtaStsPolicy('example.com', options)).status).toBe('policy'); // record gone, cache holds
    clock += 86_401_000;
    expect((await getMtaStsPolicy('example.com', options)).status).toBe('none'); // expired
  });

  it('gives none without a record or with two, and error on a DNS timeout', async () => {
    dns.server.setZones({
      'nopolicy.example': {},
      'two.example': {},
      '_mta-sts.two.example': { TXT: ['v=STSv1; id=1;', 'v=STSv1; id=2;'] },
      'slow.example': {},
      '_mta-sts.slow.example': { timeout: true },
    });
    expect((await getMtaStsPolicy('nopolicy.example', { resolver: dns.resolver, fetch: fetcher() })).status).toBe(
      'none',
    );
    expect((await getMtaStsPolicy('two.example', { resolver: dns.resolver, fetch: fetcher() })).status).toBe('none');
    expect((await getMtaStsPolicy('slow.example', { resolver: dns.resolver, fetch: fetcher() })).status).toBe('error');
  });
});
