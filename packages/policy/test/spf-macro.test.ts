import { describe, expect, it } from 'vitest';
import { expandMacroString, MacroSyntaxError, parseMacroString } from '../src/internal/spf/macro';

const values = (letter: string) =>
  ({
    s: 'strong-bad@email.example.com',
    l: 'strong-bad',
    o: 'email.example.com',
    d: 'email.example.com',
    i: '192.0.2.3',
    v: 'in-addr',
    h: 'helo.example.com',
  })[letter] ?? '?';

async function expand(text: string, explanation = false): Promise<string> {
  return expandMacroString(parseMacroString(text, explanation), values);
}

describe('SPF macros (RFC 7208 7.4 examples)', () => {
  it('expands the examples of RFC 7208 7.4', async () => {
    expect(await expand('%{s}')).toBe('strong-bad@email.example.com');
    expect(await expand('%{o}')).toBe('email.example.com');
    expect(await expand('%{d}')).toBe('email.example.com');
    expect(await expand('%{d4}')).toBe('email.example.com');
    expect(await expand('%{d3}')).toBe('email.example.com');
    expect(await expand('%{d2}')).toBe('example.com');
    expect(await expand('%{d1}')).toBe('com');
    expect(await expand('%{dr}')).toBe('com.example.email');
    expect(await expand('%{d2r}')).toBe('example.email');
    expect(await expand('%{l}')).toBe('strong-bad');
    expect(await expand('%{l-}')).toBe('strong.bad');
    expect(await expand('%{lr}')).toBe('strong-bad');
    expect(await expand('%{lr-}')).toBe('bad.strong');
    expect(await expand('%{l1r-}')).toBe('strong');
    expect(await expand('%{ir}.%{v}._spf.%{d2}')).toBe('3.2.0.192.in-addr._spf.example.com');
    expect(await expand('%{lr-}.lp._spf.%{d2}')).toBe('bad.strong.lp._spf.example.com');
  });

  it('URL-escapes uppercase macros and expands %%, %_ and %-', async () => {
    expect(await expand('%{S}')).toBe('strong-bad%40email.example.com');
    expect(await expand('a%%b%_c%-d')).toBe('a%b c%20d');
  });

  it('rejects malformed macros', () => {
    for (const bad of ['%{x}', '%{d0}', '%{d', '%a', '%', '%{c}', 'a b', '%{ir}é']) {
      expect(() => parseMacroString(bad), bad).toThrow(MacroSyntaxError);
    }
  });

  it('allows spaces and c, r, t only in explanations', async () => {
    expect(() => parseMacroString('%{c} and %{r} at %{t}', true)).not.toThrow();
    expect(() => parseMacroString('%{c}')).toThrow(MacroSyntaxError);
  });
});
