import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8AddrXtext, encodeUtf8AddrXtext, parseEhloReply, parseRcptParameters } from '../src';
import { buildTransaction } from '../src/core/client-commands';

// ORCPT keeps the address type the client gave (RFC 3461 4.2: a relay passes it on unchanged),
// and `utf-8` (RFC 6533 3) travels as utf-8-addr-xtext without SMTPUTF8, as unitext with it.
const ehlo = (...keywords: string[]) => parseEhloReply({ code: 250, lines: ['mx.example', ...keywords] });

describe('RFC 6533 utf-8-addr-xtext and unitext', () => {
  it('escapes non-ASCII and the characters outside QCHAR as \\x{HEX}', () => {
    expect(encodeUtf8AddrXtext('jörg+a=b\\c@bücher.example')).toBe(
      'j\\x{F6}rg\\x{2B}a\\x{3D}b\\x{5C}c@b\\x{FC}cher.example',
    );
    expect(encodeUtf8AddrXtext('jörg@bücher.example', true)).toBe('jörg@bücher.example');
    expect(encodeUtf8AddrXtext('θ😀@x.example')).toBe('\\x{3B8}\\x{1F600}@x.example');
  });

  it('round-trips any printable address, in both forms', () => {
    const printable = fc
      .string({ unit: 'grapheme', minLength: 1 })
      .filter((text) => !/[\x00-\x20\x7f]/.test(text) && !/[\uD800-\uDFFF]/u.test(text));
    fc.assert(
      fc.property(printable, fc.boolean(), (text, unitext) => {
        expect(decodeUtf8AddrXtext(encodeUtf8AddrXtext(text, unitext))).toBe(text);
      }),
    );
  });

  it('refuses bad escapes, surrogates, a bare backslash and decoded controls', () => {
    expect(decodeUtf8AddrXtext('a\\x{ZZ}@b')).toBeNull();
    expect(decodeUtf8AddrXtext('a\\x{D800}@b')).toBeNull();
    expect(decodeUtf8AddrXtext('a\\x{110000}@b')).toBeNull();
    expect(decodeUtf8AddrXtext('a\\b@c')).toBeNull();
    expect(decodeUtf8AddrXtext('a\\x{0D}\\x{0A}RSET@b')).toBeNull();
  });
});

describe('ORCPT on RCPT (the server side)', () => {
  it('keeps the type and decodes a utf-8 ORCPT in each of its forms', () => {
    for (const value of [
      'utf-8;j\\x{F6}rg@b\\x{FC}cher.example', // utf-8-addr-xtext
      'utf-8;jörg@bücher.example', // utf-8-addr-unitext
      'UTF-8;j+5Cx{F6}rg@b+5Cx{FC}cher.example', // Postfix's client: the whole value xtext-encoded
    ]) {
      const parsed = parseRcptParameters(`ORCPT=${value}`);
      expect(parsed).toEqual({ ok: true, params: { orcpt: { type: 'utf-8', address: 'jörg@bücher.example' } } });
    }
  });

  it('keeps rfc822 and other types as xtext', () => {
    expect(parseRcptParameters('ORCPT=rfc822;bob+2Bx@b.example')).toEqual({
      ok: true,
      params: { orcpt: { type: 'rfc822', address: 'bob+x@b.example' } },
    });
    expect(parseRcptParameters('ORCPT=X400;c+3Dus')).toEqual({
      ok: true,
      params: { orcpt: { type: 'x400', address: 'c=us' } },
    });
  });

  it('refuses a utf-8 ORCPT that decodes to a line break, and a type that is not an atom', () => {
    expect(parseRcptParameters('ORCPT=utf-8;a\\x{0D}\\x{0A}@b')).toMatchObject({ ok: false });
    expect(parseRcptParameters('ORCPT=rfc 822;a@b')).toMatchObject({ ok: false });
    expect(parseRcptParameters('ORCPT=;a@b')).toMatchObject({ ok: false });
  });
});

describe('ORCPT on RCPT (the client side)', () => {
  const envelope = (orcptType?: string) => ({
    from: 'a@example.com',
    to: [
      {
        address: 'bob@b.example',
        notify: ['SUCCESS' as const],
        orcpt: 'jörg@bücher.example',
        ...(orcptType ? { orcptType } : {}),
      },
    ],
  });

  it('sends a utf-8 ORCPT as utf-8-addr-xtext to a server without SMTPUTF8', () => {
    const commands = buildTransaction(envelope('utf-8'), ehlo('DSN', '8BITMIME'));
    expect(commands.mail).toBe('MAIL FROM:<a@example.com>');
    expect(commands.rcpts[0]?.line).toBe(
      'RCPT TO:<bob@b.example> NOTIFY=SUCCESS ORCPT=utf-8;j\\x{F6}rg@b\\x{FC}cher.example',
    );
  });

  it('sends it as utf-8-addr-unitext, with SMTPUTF8 on MAIL, to a server that offers SMTPUTF8', () => {
    const commands = buildTransaction(envelope('utf-8'), ehlo('DSN', 'SMTPUTF8'));
    expect(commands.mail).toBe('MAIL FROM:<a@example.com> SMTPUTF8');
    expect(commands.rcpts[0]?.line).toBe('RCPT TO:<bob@b.example> NOTIFY=SUCCESS ORCPT=utf-8;jörg@bücher.example');
  });

  it('keeps rfc822 (the default) and passes another type on unchanged', () => {
    expect(buildTransaction(envelope(), ehlo('DSN')).rcpts[0]?.line).toBe(
      'RCPT TO:<bob@b.example> NOTIFY=SUCCESS ORCPT=rfc822;j+C3+B6rg@b+C3+BCcher.example',
    );
    const x400 = { from: 'a@example.com', to: [{ address: 'bob@b.example', orcpt: 'c=us;a=x', orcptType: 'x400' }] };
    expect(buildTransaction(x400, ehlo('DSN')).rcpts[0]?.line).toBe('RCPT TO:<bob@b.example> ORCPT=x400;c+3Dus;a+3Dx');
  });

  it('sends no ORCPT to a server without DSN', () => {
    expect(buildTransaction(envelope('utf-8'), ehlo('SMTPUTF8')).rcpts[0]?.line).toBe('RCPT TO:<bob@b.example>');
  });
});
