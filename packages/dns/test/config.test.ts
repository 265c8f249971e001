import { describe, expect, it } from 'vitest';
import { createResolver, DnsError, isDnsError, isTemporaryDnsError } from '../src/index';
import { reverseName } from '../src/internal/name';
import { parseResolvConf, parseServer } from '../src/internal/servers';

describe('server addresses', () => {
  it.each([
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353, family: 4 }],
    ['127.0.0.1', { host: '127.0.0.1', port: 53, family: 4 }],
    ['[::1]:5353', { host: '::1', port: 5353, family: 6 }],
    ['[::1]', { host: '::1', port: 53, family: 6 }],
    ['::1', { host: '::1', port: 53, family: 6 }],
  ])('reads %s', (text, expected) => {
    expect(parseServer(text)).toEqual(expected);
  });

  it.each(['dns.example.com:53', '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:x', '', '[::1]:'])(
    'refuses %j with BADCONFIG, before any lookup',
    (text) => {
      expect(() => createResolver({ servers: [text] })).toThrow(DnsError);
      try {
        createResolver({ servers: [text] });
      } catch (error) {
        expect(isDnsError(error, 'BADCONFIG')).toBe(true);
        expect((error as Error).message).toMatch(/give an IP address and port/);
      }
    },
  );

  it('refuses an empty server list and non-positive timeouts', () => {
    expect(() => createResolver({ servers: [] })).toThrow(/at least one/);
    expect(() => createResolver({ servers: ['127.0.0.1'], timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createResolver({ servers: ['127.0.0.1'], tries: -1 })).toThrow(/tries/);
    expect(() => createResolver({ servers: ['127.0.0.1'], ednsUdpSize: 70_000 })).toThrow(/ednsUdpSize/);
  });
});

describe('resolv.conf', () => {
  it('takes the nameserver lines, IPv4 and IPv6, ignoring comments, zone indexes and other lines', () => {
    const text =
      '# comment\nsearch example.com\nnameserver 192.0.2.53\n; nameserver 192.0.2.54\nnameserver fe80::1%eth0\noptions ndots:2\n';
    expect(parseResolvConf(text)).toEqual(['192.0.2.53:53', '[fe80::1]:53']);
  });

  it('falls back to 127.0.0.1:53 when there is no nameserver line', () => {
    expect(parseResolvConf('search example.com\n')).toEqual(['127.0.0.1:53']);
  });
});

describe('reverse names', () => {
  it('builds in-addr.arpa and ip6.arpa names', () => {
    expect(reverseName('192.0.2.1')).toBe('1.2.0.192.in-addr.arpa');
    expect(reverseName('2001:db8::567:89ab')).toBe(
      'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
    expect(reverseName('::ffff:192.0.2.1')).toBe(
      '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa',
    );
  });
});

describe('DnsError', () => {
  it('is recognised by shape, so across duplicate installs', () => {
    const lookalike = { isDnsError: true, code: 'SERVFAIL', message: 'from another copy' };
    expect(isDnsError(lookalike)).toBe(true);
    expect(isDnsError(lookalike, 'SERVFAIL')).toBe(true);
    expect(isDnsError(lookalike, 'NXDOMAIN')).toBe(false);
    expect(isTemporaryDnsError(lookalike)).toBe(true);
    expect(isDnsError(new Error('x'))).toBe(false);
    expect(isDnsError(null)).toBe(false);
  });
});
