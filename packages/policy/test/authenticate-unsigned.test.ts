import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, checkSpf } from '../src/index';
import { unsignedHeaderFrom } from '../src/internal/unsigned-message';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';
import { plainMessage, signMessage } from './helpers/signed-message';

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({
    'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
    'example.net': { TXT: ['v=spf1 -all'] },
    '_dmarc.example.net': { TXT: ['v=DMARC1; p=quarantine'] },
  });
});
afterAll(async () => {
  await dns?.server.close();
});

const input = { ip: '192.0.2.7', helo: 'mail.example.org', sender: 'alice@example.org', hostname: 'mx.test' };

// The quick reading of unsigned mail must give exactly what mailauth's full parse gives.
describe('authenticate on a message without DKIM or ARC fields', () => {
  const messages = [
    'From: alice@example.org\r\nSubject: a\r\n\r\nbody\r\n',
    'From: Alice <Alice@Example.ORG>\r\nTo: b@example.net\r\n\r\nbody\r\n',
    'Subject: folded\r\nFrom: "Alice, at work" <alice@example.org>\r\n\r\nbody\r\n',
    'From: ceo@example.net\r\n\r\nspoofed\r\n',
    'From: a@example.org, b@example.org\r\n\r\ntwo authors\r\n',
    'From: a@example.org\r\nFrom: b@example.org\r\n\r\ntwo fields\r\n',
    'From: =?utf-8?q?Al=C3=AFce?= <alice@example.org>\r\n\r\nencoded\r\n',
    'To: nobody@example.org\r\n\r\nno From\r\n',
  ];
  for (const text of messages) {
    it(`matches the full parse for ${JSON.stringify(text.split('\r\n\r\n')[0])}`, async () => {
      const quick = await authenticate(
        { ...input, message: Buffer.from(text) },
        { resolver: dns.resolver, random: () => 0 },
      );
      // A stream always takes the full path through mailauth.
      const full = await authenticate(
        { ...input, message: Readable.from([Buffer.from(text)]) },
        { resolver: dns.resolver, random: () => 0 },
      );
      expect(quick.header).toBe(full.header);
      expect(quick.dmarc).toEqual(full.dmarc);
      expect(quick.dkim).toEqual(full.dkim);
      expect(quick.arc).toEqual(full.arc);
    });
  }

  it('takes the quick path only when nothing needs verifying', () => {
    expect(unsignedHeaderFrom('From: Alice <alice@example.org>\r\n\r\n')).toEqual(['alice@example.org']);
    expect(unsignedHeaderFrom('DKIM-Signature: v=1\r\nFrom: alice@example.org\r\n\r\n')).toBeUndefined();
    expect(unsignedHeaderFrom('ARC-Seal: i=1\r\nFrom: alice@example.org\r\n\r\n')).toBeUndefined();
    expect(unsignedHeaderFrom('From: a@example.org, b@example.org\r\n\r\n')).toBeUndefined();
    expect(unsignedHeaderFrom('From: alice@example.org\r\n')).toBeUndefined(); // no end of header seen
  });

  it('still verifies a signed message given as a Buffer', async () => {
    const signed = await signMessage(plainMessage('alice@example.org'), 'example.org');
    const result = await authenticate({ ...input, message: Buffer.from(signed) }, { resolver: dns.resolver });
    expect(result.dkim.length).toBeGreaterThan(0);
  });

  it('uses an SPF result it is given instead of evaluating SPF again', async () => {
    const spf = await checkSpf(
      { ip: input.ip, helo: input.helo, sender: input.sender },
      { resolver: dns.resolver, receiver: 'mx.test' },
    );
    const queries = dns.server.queries.length;
    const result = await authenticate(
      { ...input, spf, message: Buffer.from('From: x@unknown-domain.test\r\n\r\nhi\r\n') },
      { resolver: dns.resolver },
    );
    expect(result.spf).toBe(spf);
    expect(dns.server.queries.slice(queries).some((q) => q.type === 'TXT' && q.name === 'example.org')).toBe(false);
  });
});
