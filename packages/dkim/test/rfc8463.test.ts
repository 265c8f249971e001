// RFC 8463 Appendix A: the published example must come out to the byte (Ed25519 and RSA PKCS#1 v1.5
// signatures are both deterministic), through the same hashing and signing path as every signature.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SignatureTags } from '../src/internal/signature-template';
import { SigningCore } from '../src/internal/signing-core';
import { byteByByte } from './helpers';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/rfc8463/${name}`, import.meta.url), 'latin1');
const signedExample = fixture('rfc8463-A3-signed.eml').replace(/\r?\n/g, '\r\n');
const message = signedExample.slice(signedExample.indexOf('From: Joe'));
const published = signedExample.slice(0, signedExample.indexOf('From: Joe')).split(/\r\n(?=DKIM-Signature:)/);

// The example's own layout: i= and q= after d=, h= written with " : " (the rendering is the only part
// taken from the example; hashes and signatures are computed).
const rfcLayout = (tags: SignatureTags) => {
  const tag = new Map(tags);
  const h = tag.get('h')!.split(':').join(' : ');
  return (
    `DKIM-Signature: v=1; a=${tag.get('a')}; c=${tag.get('c')};\r\n d=${tag.get('d')}; i=${tag.get('i')};\r\n` +
    ` q=dns/txt; s=${tag.get('s')}; t=${tag.get('t')}; h=${h.replace(/^(from : to :) /, '$1\r\n ')};\r\n` +
    ` bh=${tag.get('bh')};\r\n b=`
  );
};

function sign(selector: string, privateKey: string, chunks: (string | Buffer)[]) {
  const core = new SigningCore(
    {
      signatures: [
        {
          domain: 'football.example.com',
          selector,
          privateKey,
          identity: '@football.example.com',
          signedAt: new Date(1528637909 * 1000),
          headers: ['from', 'to', 'subject', 'date', 'message-id'],
          oversign: ['from', 'subject', 'date'],
        },
      ],
    },
    { renderTemplate: rfcLayout },
  );
  for (const chunk of chunks) core.update(chunk);
  return core.final().signatures[0]!;
}

const tagValue = (field: string, name: string) =>
  new RegExp(`[;\\s]${name}=([^;]*)`).exec(field)![1]!.replace(/\s+/g, '');

describe('RFC 8463 Appendix A example', () => {
  it('reproduces the ed25519-sha256 signature exactly (same bh= and b=)', () => {
    const result = sign('brisbane', fixture('rfc8463-A1-ed25519-private.b64'), [message]);
    expect(result.algorithm).toBe('ed25519-sha256');
    expect(result.bodyHash).toBe('2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=');
    expect(tagValue(result.field, 'b')).toBe(tagValue(published[0]!, 'b'));
    // Everything before the b= value is the example's text to the byte (only the folding of b= differs).
    const head = (field: string) => field.slice(0, field.lastIndexOf('b=') + 2);
    expect(head(result.field)).toBe(head(published[0]!));
  });

  it('reproduces the rsa-sha256 signature exactly (same bh= and b=)', () => {
    const result = sign('test', fixture('rfc8463-A1-rsa-private.pem'), [message]);
    expect(result.algorithm).toBe('rsa-sha256');
    expect(tagValue(result.field, 'bh')).toBe(tagValue(published[1]!, 'bh'));
    expect(tagValue(result.field, 'b')).toBe(tagValue(published[1]!, 'b'));
  });

  it('gives the same signature when the message is fed byte by byte', () => {
    const whole = sign('brisbane', fixture('rfc8463-A1-ed25519-private.b64'), [message]);
    const bytewise = sign('brisbane', fixture('rfc8463-A1-ed25519-private.b64'), byteByByte(Buffer.from(message)));
    expect(bytewise.field).toBe(whole.field);
  });
});
