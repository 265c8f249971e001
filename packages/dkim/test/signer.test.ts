import { createHash, createPublicKey, verify } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createSigner, generateKey, isDkimError, signMessage, signStream } from '../src/index';
import { canonicalizeHeaderField } from '../src/internal/header-canonicalization';
import { corpus } from './corpus';
import { splitAt } from './helpers';

const rsa = generateKey({ algorithm: 'rsa', bits: 1024 });
const ed = generateKey({ algorithm: 'ed25519' });
const message = corpus[0]!.message;
const at = new Date('2026-11-27T21:00:00Z');
const base = { domain: 'example.com', selector: 'sel', privateKey: ed.privateKey, signedAt: at };

const tag = (field: string, name: string) => new RegExp(`[;\\s]${name}=([^;]*)`).exec(field)?.[1]?.replace(/\s+/g, '');

describe('createSigner / signMessage', () => {
  it('writes v, a, c, d, s, t, h, bh and b, and folds lines to at most 78 columns', () => {
    const { signatures, header } = signMessage(message, { signatures: [base] });
    const field = signatures[0]!.field;
    expect(header).toBe(`${field}\r\n`);
    expect(field.replace(/\r\n /g, ' ')).toMatch(
      /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example.com; s=sel;/,
    );
    expect(tag(field, 't')).toBe(String(at.getTime() / 1000));
    expect(tag(field, 'h')).toBe('from:subject:date:to:message-id:from');
    expect(tag(field, 'bh')).toBe(signatures[0]!.bodyHash);
    for (const line of field.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    expect(field).not.toMatch(/\r\n(?![ \t])/);
  });

  it('makes a signature that verifies over the canonical headers it lists', () => {
    const { signatures } = signMessage(message, { signatures: [{ ...base, privateKey: rsa.privateKey }] });
    const field = signatures[0]!.field;
    const text = message.toString('latin1');
    const headers = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
    const find = (name: string) => headers.find((line) => line.toLowerCase().startsWith(`${name}:`));
    let data = '';
    for (const name of tag(field, 'h')!.split(':').slice(0, -1))
      data += `${canonicalizeHeaderField(find(name)!, 'relaxed')}\r\n`;
    data += canonicalizeHeaderField(field.replace(/b=[^;]*$/, 'b='), 'relaxed');
    const ok = verify(
      'sha256',
      Buffer.from(data, 'latin1'),
      createPublicKey(rsa.privateKey),
      Buffer.from(tag(field, 'b')!, 'base64'),
    );
    expect(ok).toBe(true);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4).replace(/(\r\n)+$/, '\r\n');
    expect(signatures[0]!.bodyHash).toBe(createHash('sha256').update(body, 'latin1').digest('base64'));
  });

  it('writes x= as t= plus expiresInSeconds, leaves t= out when signedAt is false, and writes i=', () => {
    const withExpiry = signMessage(message, {
      signatures: [{ ...base, expiresInSeconds: 3600, identity: 'alice@mail.example.com' }],
    });
    expect(Number(tag(withExpiry.signatures[0]!.field, 'x'))).toBe(at.getTime() / 1000 + 3600);
    expect(tag(withExpiry.signatures[0]!.field, 'i')).toBe('alice@mail.example.com');
    const noTime = signMessage(message, { signatures: [{ ...base, signedAt: false }] });
    expect(tag(noTime.signatures[0]!.field, 't')).toBeUndefined();
  });

  it('uses the clock for t= when signedAt is not given', () => {
    const { signatures } = signMessage(message, {
      signatures: [{ domain: 'example.com', selector: 's', privateKey: ed.privateKey }],
      now: () => 1_700_000_000_000,
    });
    expect(tag(signatures[0]!.field, 't')).toBe('1700000000');
  });

  it('makes several signatures in one pass, in the order given', () => {
    const result = signMessage(message, {
      signatures: [
        { ...base, domain: 'example.com', canonicalization: 'simple/simple' },
        { ...base, domain: 'operator.example', privateKey: rsa.privateKey },
      ],
    });
    expect(result.signatures.map((s) => [s.domain, s.algorithm, s.canonicalization])).toEqual([
      ['example.com', 'ed25519-sha256', 'simple/simple'],
      ['operator.example', 'rsa-sha256', 'relaxed/relaxed'],
    ]);
    expect(result.header.split('DKIM-Signature:').length).toBe(3);
  });

  it('signs each instance of a repeated field and oversigns the names asked', () => {
    const text = 'From: a@example.com\r\nTo: b@example.net\r\nTo: c@example.net\r\n\r\nhi\r\n';
    const { signatures } = signMessage(text, { signatures: [{ ...base, oversign: ['from', 'to', 'reply-to'] }] });
    expect(signatures[0]!.signedHeaders).toEqual(['from', 'to', 'to', 'from', 'to', 'reply-to']);
  });

  it('gives the same result whatever the chunking, for every corpus message', () => {
    for (const { message: m } of corpus) {
      const whole = signMessage(m, { signatures: [base] }).header;
      const signer = createSigner({ signatures: [base] });
      for (const part of splitAt(m, [1, 2, 3, 17, 64, 65, 200, m.length - 3, m.length - 1])) signer.update(part);
      expect(signer.final().header).toBe(whole);
    }
  });

  it('signs a stream with signStream, and honours an aborted signal', async () => {
    const expected = signMessage(message, { signatures: [base] }).header;
    const result = await signStream(Readable.from(splitAt(message, [10, 50, 100])), { signatures: [base] });
    expect(result.header).toBe(expected);
    const controller = new AbortController();
    controller.abort();
    await expect(
      signStream(Readable.from([message]), { signatures: [base], signal: controller.signal }),
    ).rejects.toThrow();
  });

  it('gives with finalAsync (the thread pool) the very fields final gives, for RSA and Ed25519 at once', async () => {
    const signatures = [{ ...base, privateKey: rsa.privateKey }, base];
    const sync = createSigner({ signatures });
    const pooled = createSigner({ signatures });
    for (const chunk of splitAt(message, [7, 300])) {
      sync.update(chunk);
      pooled.update(chunk);
    }
    const expected = sync.final();
    const result = await pooled.finalAsync();
    expect(result.signatures.map((one) => one.algorithm)).toEqual(['rsa-sha256', 'ed25519-sha256']);
    expect(result).toEqual(expected);
  });

  it('treats a string as UTF-8 and a message with no empty line as headers only', () => {
    const utf8 = 'From: jörg@example.com\r\nSubject: ☃';
    expect(signMessage(utf8, { signatures: [base] }).header).toBe(
      signMessage(Buffer.from(utf8, 'utf8'), { signatures: [base] }).header,
    );
    expect(signMessage(utf8, { signatures: [base] }).signatures[0]!.bodyHash).toBe(
      createHash('sha256').update('').digest('base64'),
    );
  });
});

describe('line ends and the header block', () => {
  it('signs a message with LF line ends as its CRLF form (what SMTP sends)', () => {
    for (const canonicalization of ['simple/simple', 'relaxed/relaxed'] as const) {
      for (const { message: m } of corpus) {
        const lf = Buffer.from(m.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
        const options = { signatures: [{ ...base, canonicalization }] };
        expect(signMessage(lf, options).header).toBe(signMessage(m, options).header);
      }
    }
  });

  it('reads a message that starts with an empty line as no header fields and all body', () => {
    const { signatures } = signMessage('\r\nFrom: not a header\r\n', { signatures: [base] });
    expect(signatures[0]!.signedHeaders).toEqual(['from']);
    expect(signatures[0]!.bodyHash).toBe(createHash('sha256').update('From: not a header\r\n').digest('base64'));
  });

  it('accepts a header block of exactly maxHeaderBytes', () => {
    const head = 'From: a@example.com\r\nX-Pad: ';
    const text = `${head}${'x'.repeat(4096 - head.length - 2)}\r\n\r\nbody\r\n`;
    expect(signMessage(text, { signatures: [base], maxHeaderBytes: 4096 }).signatures[0]!.signedHeaders).toEqual([
      'from',
      'from',
    ]);
  });
});

describe('signer errors', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(isDkimError(error)).toBe(true);
      return (error as { code: string; message: string }).code;
    }
    throw new Error('expected a DkimError');
  };

  it('rejects bad options when the signer is made, with a code and a message saying what to do', () => {
    expect(code(() => createSigner({ signatures: [] }))).toBe('INVALID_OPTION');
    expect(code(() => createSigner({ signatures: [{ ...base, domain: 'not a domain' }] }))).toBe('INVALID_DOMAIN');
    expect(code(() => createSigner({ signatures: [{ ...base, domain: 'localhost' }] }))).toBe('INVALID_DOMAIN');
    expect(code(() => createSigner({ signatures: [{ ...base, selector: 'bad;selector' }] }))).toBe('INVALID_SELECTOR');
    expect(code(() => createSigner({ signatures: [{ ...base, privateKey: 'nonsense' }] }))).toBe('KEY_MALFORMED');
    expect(code(() => createSigner({ signatures: [{ ...base, identity: '@other.example' }] }))).toBe('INVALID_OPTION');
    expect(code(() => createSigner({ signatures: [{ ...base, headers: ['to'] }] }))).toBe('INVALID_OPTION');
    expect(code(() => createSigner({ signatures: [{ ...base, expiresInSeconds: -5 }] }))).toBe('INVALID_OPTION');
    // biome-ignore lint/suspicious/noExplicitAny: an invalid value on purpose
    expect(code(() => createSigner({ signatures: [{ ...base, canonicalization: 'loose/loose' as any }] }))).toBe(
      'INVALID_OPTION',
    );
  });

  it('accepts an IDN domain and writes it in A-labels', () => {
    const { signatures } = signMessage(message, { signatures: [{ ...base, domain: 'exämple.com' }] });
    expect(signatures[0]!.domain).toBe('xn--exmple-cua.com');
  });

  it('refuses a header block larger than maxHeaderBytes, whole or in chunks', () => {
    const big = `From: a@example.com\r\nX-Big: ${'x'.repeat(5000)}\r\n\r\nbody\r\n`;
    expect(code(() => signMessage(big, { signatures: [base], maxHeaderBytes: 4096 }))).toBe('HEADER_TOO_LARGE');
    const signer = createSigner({ signatures: [base], maxHeaderBytes: 4096 });
    expect(
      code(() => {
        for (let i = 0; i < big.length; i += 100) signer.update(big.slice(i, i + 100));
      }),
    ).toBe('HEADER_TOO_LARGE');
  });

  it('refuses update() and final() after final()', () => {
    const signer = createSigner({ signatures: [base] });
    signer.update(message);
    signer.final();
    expect(code(() => signer.update('more'))).toBe('SIGNER_FINISHED');
    expect(code(() => signer.final())).toBe('SIGNER_FINISHED');
  });

  it('refuses finalAsync() after final(), and final() after finalAsync()', async () => {
    const first = createSigner({ signatures: [base] });
    first.update(message);
    first.final();
    await expect(first.finalAsync()).rejects.toMatchObject({ code: 'SIGNER_FINISHED' });
    const second = createSigner({ signatures: [base] });
    second.update(message);
    await second.finalAsync();
    expect(code(() => second.final())).toBe('SIGNER_FINISHED');
  });
});
