import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeXtext, encodeXtext, formatReply, normaliseDomain, parseCommand, parseMailbox, parsePath } from '../src';

describe('formatReply', () => {
  it('writes multi-line replies with the enhanced code on every line', () => {
    expect(formatReply({ code: 550, enhanced: '5.7.1', lines: ['first', 'second'] })).toBe(
      '550-5.7.1 first\r\n550 5.7.1 second\r\n',
    );
  });

  it('cannot be made to inject a reply line through CR or LF in the text', () => {
    expect(formatReply({ code: 250, lines: ['ok\r\n250 injected'] })).toBe('250-ok\r\n250 250 injected\r\n');
  });

  it('writes a bare code line for empty text', () => {
    expect(formatReply({ code: 354, lines: [''] })).toBe('354\r\n');
  });
});

describe('xtext (RFC 3461 4)', () => {
  it('round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(decodeXtext(encodeXtext(text))).toBe(text);
      }),
    );
  });

  it('refuses malformed escapes', () => {
    expect(decodeXtext('a+2')).toBeNull();
    expect(decodeXtext('a+zz')).toBeNull();
    expect(decodeXtext('a=b')).toBeNull();
  });
});

describe('addresses', () => {
  it('normalises IDN domains to lower-case A-labels', () => {
    expect(normaliseDomain('Bücher.Example')).toBe('xn--bcher-kva.example');
    expect(normaliseDomain('-bad.example')).toBeNull();
    expect(normaliseDomain('a..b')).toBeNull();
  });

  it('keeps quoted local parts with escaped characters and refuses an unterminated quote', () => {
    const parsed = parseMailbox('"a\\"b c"@example.org');
    expect(parsed).toEqual({
      ok: true,
      mailbox: { localPart: '"a\\"b c"', domain: 'example.org', address: '"a\\"b c"@example.org', utf8: false },
    });
    expect(parseMailbox('"abc@example.org').ok).toBe(false);
  });

  it('refuses local parts over 64 octets and paths over 256', () => {
    expect(parseMailbox(`${'a'.repeat(65)}@example.org`).ok).toBe(false);
    const label = 'b'.repeat(50);
    expect(parsePath(`<a@${label}.${label}.${label}.${label}.org>`).ok).toBe(true);
    expect(parsePath(`<a@${label}.${label}.${label}.${label}.${label}.org>`).ok).toBe(false);
  });

  it('accepts address literals and refuses bad ones', () => {
    expect(parseMailbox('a@[192.0.2.1]').ok).toBe(true);
    expect(parseMailbox('a@[IPv6:2001:db8::1]').ok).toBe(true);
    expect(parseMailbox('a@[300.1.1.1]').ok).toBe(false);
  });
});

describe('parseCommand', () => {
  it('reads verbs in any case and keeps HELO names as given', () => {
    expect(parseCommand('ehlo Client.Example')).toEqual({
      ok: true,
      command: { verb: 'EHLO', domain: 'Client.Example' },
    });
  });

  it('parses BDAT sizes and LAST', () => {
    expect(parseCommand('BDAT 1000 last')).toEqual({ ok: true, command: { verb: 'BDAT', size: 1000, last: true } });
    expect(parseCommand('BDAT -1').ok).toBe(false);
  });

  it('parses AUTH with and without an initial response', () => {
    expect(parseCommand('AUTH plain =')).toEqual({
      ok: true,
      command: { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' },
    });
    expect(parseCommand('AUTH LOGIN')).toEqual({
      ok: true,
      command: { verb: 'AUTH', mechanism: 'LOGIN', initialResponse: undefined },
    });
  });

  it('refuses duplicate parameters and a path without brackets', () => {
    expect(parseCommand('MAIL FROM:<a@b.test> SIZE=1 SIZE=2')).toMatchObject({ ok: false, reply: { code: 501 } });
    expect(parseCommand('RCPT TO:b@b.test')).toMatchObject({ ok: false, reply: { code: 501 } });
  });

  it('never throws on any line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (line) => {
        expect(typeof parseCommand(line).ok).toBe('boolean');
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (rest) => {
        expect(typeof parseCommand(`MAIL FROM:<${rest}`).ok).toBe('boolean');
        expect(typeof parseCommand(`RCPT TO:<${rest}> ${rest}`).ok).toBe('boolean');
      }),
    );
  });
});
