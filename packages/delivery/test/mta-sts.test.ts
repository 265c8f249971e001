import { describe, expect, it } from 'vitest';
import { type MtaStsPolicy, matchesMxPattern, mtaStsAllowsMx } from '../src/index';

describe('matchesMxPattern (RFC 8461 4.1)', () => {
  it('matches exact names case-insensitively, ignoring a trailing dot', () => {
    expect(matchesMxPattern('MX1.Example.com.', 'mx1.example.com')).toBe(true);
    expect(matchesMxPattern('mx2.example.com', 'mx1.example.com')).toBe(false);
  });

  it('lets a leading *. stand for exactly one label', () => {
    expect(matchesMxPattern('mx1.example.com', '*.example.com')).toBe(true);
    expect(matchesMxPattern('a.b.example.com', '*.example.com')).toBe(false);
    expect(matchesMxPattern('example.com', '*.example.com')).toBe(false);
    expect(matchesMxPattern('mx1.badexample.com', '*.example.com')).toBe(false);
  });

  it('compares IDNs as A-labels', () => {
    expect(matchesMxPattern('mx.xn--bcher-kva.example', 'mx.bücher.example')).toBe(true);
    expect(matchesMxPattern('mx.bücher.example', '*.xn--bcher-kva.example')).toBe(true);
  });

  it('never matches a wildcard in another position or a malformed name', () => {
    expect(matchesMxPattern('mx.example.com', 'mx.*.com')).toBe(false);
    expect(matchesMxPattern('bad..example', '*.example')).toBe(false);
  });
});

describe('mtaStsAllowsMx', () => {
  const policy = (mode: MtaStsPolicy['mode']): MtaStsPolicy => ({
    mode,
    mx: ['mx.example.com', '*.mail.example.com'],
    maxAge: 86400,
  });

  it('allows only listed hosts under enforce and testing', () => {
    expect(mtaStsAllowsMx(policy('enforce'), 'a.mail.example.com')).toBe(true);
    expect(mtaStsAllowsMx(policy('enforce'), 'evil.example.net')).toBe(false);
    expect(mtaStsAllowsMx(policy('testing'), 'evil.example.net')).toBe(false);
  });

  it('allows any host under mode none', () => {
    expect(mtaStsAllowsMx(policy('none'), 'evil.example.net')).toBe(true);
  });
});
