import { describe, expect, it } from 'vitest';
import { policyDomain, renderMtaStsPolicy } from '../../src/server/mta-sts/mta-sts-policy';

describe('the MTA-STS policy the server serves', () => {
  it('has version, mode, our host name as the one mx and max_age, with CRLF line ends (RFC 8461 3.2)', () => {
    expect(renderMtaStsPolicy({ mode: 'testing', maxAgeSeconds: 604_800 }, 'mx.example.org')).toBe(
      'version: STSv1\r\nmode: testing\r\nmx: mx.example.org\r\nmax_age: 604800\r\n',
    );
  });

  it('caps max_age at RFC 8461 maximum of 31557600 seconds', () => {
    expect(renderMtaStsPolicy({ mode: 'enforce', maxAgeSeconds: 400 * 86_400 }, 'mx.example.org')).toContain(
      'max_age: 31557600\r\n',
    );
  });

  it('is served for mta-sts.DOMAIN of our domains only, whatever the case, port or final dot', () => {
    const domains = ['example.org', 'example.net'];
    expect(policyDomain('MTA-STS.Example.NET.:443', domains)).toBe('example.net');
    expect(policyDomain('mta-sts.example.org', domains)).toBe('example.org');
    expect(policyDomain('mta-sts.example.com', domains)).toBeUndefined();
    expect(policyDomain('mx.example.org', domains)).toBeUndefined();
    expect(policyDomain(undefined, domains)).toBeUndefined();
  });
});
