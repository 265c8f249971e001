// checkPublishedKey through the real @homing/dns resolver and its loopback DNS server.
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPublishedKey, generateKey } from '../src/index';

const rsa = generateKey({ algorithm: 'rsa', bits: 2048 });
const ed = generateKey({ algorithm: 'ed25519' });
let server: DnsServer;

beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'example.com': { TXT: ['v=spf1 -all'] },
      // Over 255 octets: published as two character-strings, joined by the resolver.
      'rsa._domainkey.example.com': { TXT: [rsa.recordStrings] },
      'ed._domainkey.example.com': { TXT: [ed.record] },
      'testing._domainkey.example.com': { TXT: [`${ed.record}; t=y`] },
      'broken._domainkey.example.com': { servfail: true },
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('checkPublishedKey over the loopback DNS server', () => {
  const resolver = () => createResolver({ servers: [server.address], timeoutMs: 1000, tries: 1, cache: false });
  const check = (selector: string, privateKey: string) =>
    checkPublishedKey({ domain: 'example.com', selector, privateKey }, resolver());

  it('finds a 2048-bit RSA record split in character-strings, and an Ed25519 one', { timeout: 10_000 }, async () => {
    expect((await check('rsa', rsa.privateKey)).status).toBe('ok');
    expect((await check('ed', ed.privateKey)).status).toBe('ok');
  });

  it('reports missing, wrong-key, testing and dns-failure from real answers', { timeout: 10_000 }, async () => {
    expect(await check('nope', rsa.privateKey)).toMatchObject({ status: 'missing', dnsCode: 'NXDOMAIN' });
    expect((await check('ed', rsa.privateKey)).status).toBe('wrong-key');
    expect((await check('testing', ed.privateKey)).status).toBe('testing');
    expect(await check('broken', ed.privateKey)).toMatchObject({ status: 'dns-failure', dnsCode: 'SERVFAIL' });
  });
});
