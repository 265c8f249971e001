import { describe, expect, it } from 'vitest';
import { isSpfRecord, parseSpfRecord, RecordSyntaxError } from '../src/internal/spf/record';

describe('SPF record syntax (RFC 7208 4.6, 12)', () => {
  it('selects v=spf1 records only', () => {
    expect(isSpfRecord('v=spf1 -all')).toBe(true);
    expect(isSpfRecord('V=SPF1')).toBe(true);
    expect(isSpfRecord('v=spf10 -all')).toBe(false);
    expect(isSpfRecord('google-site-verification=abc')).toBe(false);
  });

  it('parses every mechanism with qualifiers and CIDR lengths', () => {
    const record = parseSpfRecord(
      'v=spf1 +a -a:example.com/24 ~mx//64 ?mx:mx.example.com/16//48 ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.bl.example.com include:_spf.example.net all',
    );
    expect(record.mechanisms.map((m) => `${m.qualifier} ${m.kind}`)).toEqual([
      'pass a',
      'fail a',
      'softfail mx',
      'neutral mx',
      'pass ptr',
      'pass ptr',
      'pass ip4',
      'pass ip6',
      'pass exists',
      'pass include',
      'pass all',
    ]);
    expect(record.mechanisms[1]).toMatchObject({ cidr4: 24, cidr6: 128 });
    expect(record.mechanisms[3]).toMatchObject({ cidr4: 16, cidr6: 48 });
  });

  it('reads redirect= and exp= and ignores unknown modifiers', () => {
    const record = parseSpfRecord('v=spf1 ip4:192.0.2.1 redirect=_spf.example.com exp=why.example.com moo=cow');
    expect(record.redirect).toEqual([{ kind: 'literal', text: '_spf.example.com' }]);
    expect(record.exp).toEqual([{ kind: 'literal', text: 'why.example.com' }]);
    // moo=cow is neither a mechanism nor a modifier we keep: only the ip4 term is left.
    expect(record.mechanisms.map((mechanism) => mechanism.text)).toEqual(['ip4:192.0.2.1']);
    expect(Object.keys(record).sort()).toEqual(['exp', 'mechanisms', 'redirect', 'text']);
  });

  it('rejects syntax errors anywhere in the record', () => {
    for (const bad of [
      'v=spf1 -all/8',
      'v=spf1 a:foo-bar',
      'v=spf1 ip4:1.2.3.4/33',
      'v=spf1 ip4:1.2.3',
      'v=spf1 ip6:1.2.3.4',
      'v=spf1 a/032',
      'v=spf1 include',
      'v=spf1 exists',
      'v=spf1 foo',
      'v=spf1 redirect=a.example.com redirect=b.example.com',
      'v=spf1 exp=a.example.com exp=b.example.com',
      'v=spf1 moo=%{x}',
      'v=spf1 a\t-all',
      'v=spf1 a:é.example.com',
    ]) {
      expect(() => parseSpfRecord(bad), bad).toThrow(RecordSyntaxError);
    }
  });
});
