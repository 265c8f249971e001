import { describe, expect, it } from 'vitest';
import { isMtaStsError } from '../src/index';
import { mxMatches, parseMtaStsPolicy, parseMtaStsRecord } from '../src/internal/mta-sts-parse';

describe('MTA-STS record and policy parsing (RFC 8461 3.1, 3.2)', () => {
  it('reads the TXT record id', () => {
    expect(parseMtaStsRecord('v=STSv1; id=20160831085700Z;')).toEqual({ id: '20160831085700Z' });
    expect(parseMtaStsRecord('v=STSv1;id=abc; ext=1')).toEqual({ id: 'abc' });
    for (const bad of [
      'v=STSv2; id=1',
      'v=STSv1;',
      'v=STSv1; id=has-dash',
      `v=STSv1; id=${'a'.repeat(33)}`,
      'v=STSv1; id=a; id=b',
    ]) {
      expect(parseMtaStsRecord(bad), bad).toBeUndefined();
    }
  });

  it('parses the example policy of RFC 8461 3.2, with CRLF or LF', () => {
    const body =
      'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n';
    const expected = {
      mode: 'enforce',
      mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'],
      maxAge: 604800,
    };
    expect(parseMtaStsPolicy(body)).toEqual(expected);
    expect(parseMtaStsPolicy(body.replace(/\r\n/g, '\n').trimEnd())).toEqual(expected);
  });

  it('rejects malformed policies with MTA_STS_POLICY', () => {
    for (const bad of [
      'mode: enforce\nmx: a.example\nmax_age: 10',
      'version: STSv1\nmode: strict\nmx: a.example\nmax_age: 10',
      'version: STSv1\nmode: enforce\nmax_age: 10',
      'version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601',
      'version: STSv1\nmode: enforce\nmx: a.example\nmax_age: ten',
      'version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 10',
      'version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 10',
      '<html>not a policy</html>',
    ]) {
      let error: unknown;
      try {
        parseMtaStsPolicy(bad);
      } catch (caught) {
        error = caught;
      }
      expect(isMtaStsError(error, 'MTA_STS_POLICY'), bad).toBe(true);
    }
    expect(parseMtaStsPolicy('version: STSv1\nmode: none\nmax_age: 86400\n').mode).toBe('none');
  });

  it('matches MX names, a wildcard covering exactly one label', () => {
    expect(mxMatches('mail.example.com', 'MAIL.example.com.')).toBe(true);
    expect(mxMatches('*.example.net', 'mx1.example.net')).toBe(true);
    expect(mxMatches('*.example.net', 'a.b.example.net')).toBe(false);
    expect(mxMatches('*.example.net', 'example.net')).toBe(false);
  });
});
