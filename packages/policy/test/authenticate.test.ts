import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isPolicyError } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';
import { dkimRecord, plainMessage, signMessage } from './helpers/signed-message';

const fixtures = new URL('./fixtures/dkim/', import.meta.url);
const rfc8463Dns = JSON.parse(readFileSync(new URL('rfc8463-A2-dns.json', fixtures), 'utf8')) as Record<
  string,
  { TXT: string[][] }
>;
const rfc8463Message = readFileSync(new URL('rfc8463-A3-signed.eml', fixtures));

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({
    ...rfc8463Dns,
    'example.com': {},
    'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    'test._domainkey.example.org': { TXT: [dkimRecord] },
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
  });
});
afterAll(async () => {
  await dns?.server.close();
});

describe('authenticate', () => {
  it('verifies both signatures of RFC 8463 A.3 (ed25519-sha256 and rsa-sha256) from a stream', async () => {
    const result = await authenticate(
      {
        ip: '213.165.64.12',
        helo: 'mail.football.example.com',
        sender: 'joe@football.example.com',
        message: Readable.from([rfc8463Message.subarray(0, 100), rfc8463Message.subarray(100)]),
        hostname: 'mx.example.net',
      },
      { resolver: dns.resolver },
    );
    expect(result.dkim.map((row) => [row.result, row.domain, row.algorithm])).toEqual([
      ['pass', 'football.example.com', 'ed25519-sha256'],
      ['pass', 'football.example.com', 'rsa-sha256'],
    ]);
    expect(result.spf.result).toBe('pass');
    expect(result.dmarc).toMatchObject({ result: 'none', domain: 'football.example.com' });
    expect(result.header).toMatch(/^Authentication-Results: mx\.example\.net;\r\n spf=pass /);
    expect(result.header.match(/dkim=pass/g)).toHaveLength(2);
  });

  it('fails a signature when the body was changed', async () => {
    const tampered = Buffer.from(rfc8463Message.toString('binary').replace('Hi.', 'Hi!'), 'binary');
    const result = await authenticate(
      { ip: '192.0.2.1', helo: 'h.example', sender: '', message: tampered, hostname: 'mx.example.net' },
      { resolver: dns.resolver },
    );
    expect(result.dkim.map((row) => row.result)).toEqual(['neutral', 'neutral']);
    expect(result.dkim[0]?.reason).toMatch(/body hash/);
  });

  it('passes DMARC by aligned DKIM and renders every result in the header', async () => {
    const message = await signMessage(plainMessage('a@example.org'), 'example.org');
    const result = await authenticate(
      { ip: '203.0.113.1', helo: 'h.example', sender: 'a@example.org', message, hostname: 'mx.example.net' },
      { resolver: dns.resolver },
    );
    expect(result.spf.result).toBe('fail');
    expect(result.dkim).toEqual([expect.objectContaining({ result: 'pass', domain: 'example.org', selector: 'test' })]);
    expect(result.dmarc).toMatchObject({
      result: 'pass',
      policy: 'reject',
      disposition: 'none',
      alignment: { dkim: 'example.org' },
    });
    expect(result.header).toContain('spf=fail');
    expect(result.header).toContain('smtp.mailfrom=a@example.org');
    expect(result.header).toContain('header.i=@example.org header.s=test');
    expect(result.header).toContain('arc=none');
    expect(result.header).toContain('dmarc=pass (p=REJECT dis=NONE) header.from=example.org');
  });

  it('passes DMARC by aligned SPF alone, and rejects when neither aligns', async () => {
    const unsigned = plainMessage('a@example.org');
    const bySpf = await authenticate(
      {
        ip: '192.0.2.9',
        helo: 'h.example',
        sender: 'bounce@example.org',
        message: unsigned,
        hostname: 'mx.example.net',
      },
      { resolver: dns.resolver },
    );
    expect(bySpf.dkim).toEqual([]);
    expect(bySpf.header).toContain('dkim=none');
    expect(bySpf.dmarc).toMatchObject({ result: 'pass', alignment: { spf: 'example.org' } });
    const neither = await authenticate(
      { ip: '203.0.113.1', helo: 'h.example', sender: 'x@example.com', message: unsigned, hostname: 'mx.example.net' },
      { resolver: dns.resolver },
    );
    expect(neither.dmarc).toMatchObject({ result: 'fail', policy: 'reject', disposition: 'reject' });
  });

  it('checks the HELO identity for the null sender and names it smtp.helo', async () => {
    const result = await authenticate(
      {
        ip: '192.0.2.9',
        helo: 'example.org',
        sender: '',
        message: plainMessage('a@example.org'),
        hostname: 'mx.example.net',
      },
      { resolver: dns.resolver },
    );
    expect(result.spf).toMatchObject({ result: 'pass', identity: 'helo' });
    expect(result.header).toContain('smtp.helo=example.org');
  });

  it('needs our host name', async () => {
    const error = await authenticate(
      { ip: '192.0.2.9', helo: 'h', sender: '', message: 'x', hostname: '' },
      { resolver: dns.resolver },
    ).catch((e) => e);
    expect(isPolicyError(error, 'BAD_INPUT')).toBe(true);
  });
});
