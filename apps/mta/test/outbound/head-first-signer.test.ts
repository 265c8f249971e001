import { generateKey } from '@homing/dkim';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { describe, expect, it } from 'vitest';
import { HeadFirstSigner } from '../../src/server/dkim/head-first-signer';

// The submission signer: fields added before the message are signed with it, and the result
// verifies with mailauth whatever the chunking (whole, byte by byte, header split across chunks).

const rsa = generateKey({ algorithm: 'rsa' });
const ed = generateKey({ algorithm: 'ed25519' });
const records: Record<string, string> = {
  'homing._domainkey.example.org': rsa.record,
  'homing-ed25519._domainkey.example.org': ed.record,
};
const resolver = async (name: string, type: string) => {
  if (type !== 'TXT' || records[name] === undefined) throw Object.assign(new Error('NXDOMAIN'), { code: 'ENOTFOUND' });
  return [[records[name]]];
};

const message = Buffer.from(
  'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: plans\r\n\r\nSee you at noon.\r\n\r\n',
);

async function sign(chunks: Buffer[]): Promise<{ signed: Buffer; head: string }> {
  let seen = '';
  const signer = new HeadFirstSigner((head) => {
    seen = head;
    return {
      prefix: 'Date: Wed, 2 Dec 2026 01:00:00 +0000\r\nMessage-ID: <x@mx.example.org>\r\n',
      signatures: [
        { domain: 'example.org', selector: 'homing', privateKey: rsa.privateKey },
        { domain: 'example.org', selector: 'homing-ed25519', privateKey: ed.privateKey },
      ],
    };
  });
  for (const chunk of chunks) signer.update(chunk);
  const { prefix, signature } = await signer.final();
  return { signed: Buffer.concat([Buffer.from(signature + prefix), message]), head: seen };
}

async function results(signed: Buffer): Promise<string[]> {
  const verified = await dkimVerify(signed, { resolver });
  return verified.results.map((r: { status: { result: string } }) => r.status.result);
}

describe('HeadFirstSigner', () => {
  it('signs the added fields with the message: both signatures verify, fed whole', async () => {
    const { signed, head } = await sign([message]);
    expect(head).toContain('Subject: plans');
    expect(await results(signed)).toEqual(['pass', 'pass']);
    // A changed added field breaks them: the fields were signed.
    const changed = Buffer.from(
      signed.toString('latin1').replace('<x@mx.example.org>', '<y@mx.example.org>'),
      'latin1',
    );
    expect(await results(changed)).not.toContain('pass');
  });

  it('gives the same result fed byte by byte, with the header end split across chunks', async () => {
    const bytes = [...message].map((byte) => Buffer.from([byte]));
    expect(await results((await sign(bytes)).signed)).toEqual(['pass', 'pass']);
  });

  it('signs nothing when no signature is asked for, and still adds the fields', async () => {
    const signer = new HeadFirstSigner(() => ({ prefix: 'Date: x\r\n', signatures: undefined }));
    signer.update(message);
    expect(await signer.final()).toEqual({ prefix: 'Date: x\r\n', signature: '' });
  });
});
