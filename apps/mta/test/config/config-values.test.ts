import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatSize,
  parseAddress,
  parseDomain,
  parseDuration,
  parseListenAddress,
  parseResolver,
  parseSize,
} from '../../src/config/config-values';
import { didYouMean, editDistance } from '../../src/config/did-you-mean';

const value = <T>(parsed: { ok: boolean; value?: T; message?: string }) => (parsed.ok ? parsed.value : parsed.message);

describe('config values', () => {
  it('reads sizes 1024-based, with or without a unit', () => {
    expect(value(parseSize('25M', '25M'))).toBe(26_214_400);
    expect(value(parseSize('64k', '64K'))).toBe(65_536);
    expect(value(parseSize('1G', '1G'))).toBe(1_073_741_824);
    expect(value(parseSize('2MiB', '1G'))).toBe(2_097_152);
    expect(value(parseSize(1000, '1G'))).toBe(1000);
    expect(value(parseSize('1T', '1G'))).toBe('"1T" is not a size; write a number with K, M or G, e.g. 1G');
    expect(value(parseSize(-1, '1G'))).toMatch(/is not a size/);
  });

  it('reads durations only with a unit', () => {
    expect(value(parseDuration('300ms', '5s'))).toBe(300);
    expect(value(parseDuration('5s', '5s'))).toBe(5000);
    expect(value(parseDuration('5m', '5s'))).toBe(300_000);
    expect(value(parseDuration('1h', '5s'))).toBe(3_600_000);
    expect(value(parseDuration(5, '5s'))).toBe('5 is not a duration; write a number with ms, s, m or h, e.g. 5s');
  });

  it('writes sizes and durations back in the largest exact unit', () => {
    expect([formatSize(26_214_400), formatSize(65_536), formatSize(1000), formatSize(1024 ** 3)]).toEqual([
      '25M',
      '64K',
      '1000',
      '1G',
    ]);
    expect([formatDuration(300_000), formatDuration(1500), formatDuration(3_600_000), formatDuration(90_000)]).toEqual([
      '5m',
      '1500ms',
      '1h',
      '90s',
    ]);
  });

  it('normalises domains: lower case, no trailing dot, IDN to A-labels', () => {
    expect(value(parseDomain('Example.ORG.', 'x'))).toBe('example.org');
    expect(value(parseDomain('bücher.example', 'x'))).toBe('xn--bcher-kva.example');
    expect(value(parseDomain('192.0.2.1', 'example.org'))).toBe(
      '"192.0.2.1" is an IP address, not a domain name; e.g. example.org',
    );
    expect(value(parseDomain('a_b.example', 'x'))).toMatch(/is not a valid domain name/);
    expect(value(parseDomain(`${'a'.repeat(64)}.example`, 'x'))).toMatch(/is not a valid domain name/);
  });

  it('normalises addresses and refuses quoted or odd local parts', () => {
    expect(value(parseAddress('Alice.Smith@Bücher.Example'))).toBe('alice.smith@xn--bcher-kva.example');
    expect(value(parseAddress('"a b"@example.org'))).toMatch(/has an invalid local part/);
    expect(value(parseAddress('a..b@example.org'))).toMatch(/has an invalid local part/);
    expect(value(parseAddress('alice@localhost'))).toMatch(/the domain is not a fully qualified domain name/);
  });

  it('reads listening addresses, IPv6 in brackets', () => {
    expect(value(parseListenAddress('[::]:25', '[::]:25'))).toEqual({ host: '::', port: 25 });
    expect(value(parseListenAddress('127.0.0.1:2525', 'x'))).toEqual({ host: '127.0.0.1', port: 2525 });
    expect(value(parseListenAddress('LocalHost:25', 'x'))).toEqual({ host: 'localhost', port: 25 });
    expect(value(parseListenAddress('[127.0.0.1]:25', 'x'))).toBe(
      '"[127.0.0.1]:25": "127.0.0.1" in brackets is not an IPv6 address',
    );
    expect(value(parseListenAddress(25, '[::]:25'))).toBe(
      '25 is not HOST:PORT; write e.g. "[::]:25" (quote an IPv6 address in brackets)',
    );
  });

  it('reads resolvers, a bare IP meaning port 53', () => {
    expect(value(parseResolver('192.0.2.53'))).toBe('192.0.2.53:53');
    expect(value(parseResolver('2001:db8::53'))).toBe('[2001:db8::53]:53');
    expect(value(parseResolver('127.0.0.1:5353'))).toBe('127.0.0.1:5353');
    expect(value(parseResolver('[::1]:5353'))).toBe('[::1]:5353');
  });
});

describe('did you mean', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('hostnmae', 'hostname')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests only close keys, ignoring case and - for _', () => {
    const keys = ['domain', 'domains', 'hostname', 'remote_port', 'users'];
    expect(didYouMean('hostnme', keys)).toBe('hostname');
    expect(didYouMean('remote-port', keys)).toBe('remote_port');
    expect(didYouMean('Users', keys)).toBe('users');
    expect(didYouMean('domian', keys)).toBe('domain');
    expect(didYouMean('tls_cert', keys)).toBeUndefined();
  });
});
