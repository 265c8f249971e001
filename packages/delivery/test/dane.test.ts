import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '@homing/dns';
import { beforeAll, describe, expect, it } from 'vitest';
import { matchTlsa } from '../src/index';
import { makeCertificates, type TestCertificates } from './certificates';

let certs: TestCertificates;
let leaf: X509Certificate;
let ca: X509Certificate;
let other: X509Certificate;

beforeAll(() => {
  certs = makeCertificates(['mx.example.com']);
  leaf = new X509Certificate(certs.server.cert);
  ca = new X509Certificate(certs.ca.cert);
  other = new X509Certificate(certs.selfSigned.cert);
});

const spki = (certificate: X509Certificate) => certificate.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const sha512 = (data: Buffer) => createHash('sha512').update(data).digest();
const record = (usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data: new Uint8Array(data),
});
const names = { hostnames: ['mx.example.com', 'example.com'] };

describe('matchTlsa: DANE-EE(3)', () => {
  it('matches the leaf by every selector and matching type', () => {
    const cases = [
      record(3, 0, 0, leaf.raw),
      record(3, 0, 1, sha256(leaf.raw)),
      record(3, 0, 2, sha512(leaf.raw)),
      record(3, 1, 0, spki(leaf)),
      record(3, 1, 1, sha256(spki(leaf))),
      record(3, 1, 2, sha512(spki(leaf))),
    ];
    for (const tlsa of cases) {
      const result = matchTlsa([tlsa], [leaf.raw, ca.raw], names);
      expect(result.status, JSON.stringify({ ...tlsa, data: undefined })).toBe('matched');
      expect(result.record).toBe(tlsa);
    }
  });

  it('ignores the name: DANE-EE binds the key, not the name (RFC 7672 3.1.1)', () => {
    const result = matchTlsa([record(3, 1, 1, sha256(spki(leaf)))], [leaf], { hostnames: ['other.example'] });
    expect(result.status).toBe('matched');
  });

  it('reports a mismatch for a different certificate', () => {
    const result = matchTlsa([record(3, 1, 1, sha256(spki(leaf)))], [other], names);
    expect(result.status).toBe('mismatch');
    expect(result.reason).toMatch(/no TLSA record matches/);
  });

  it('does not match the issuer with a usage 3 record', () => {
    expect(matchTlsa([record(3, 0, 1, sha256(ca.raw))], [leaf, ca], names).status).toBe('mismatch');
  });
});

describe('matchTlsa: DANE-TA(2)', () => {
  it('matches a trust anchor in the chain that issued the leaf, when the leaf names the MX', () => {
    for (const tlsa of [
      record(2, 0, 1, sha256(ca.raw)),
      record(2, 1, 2, sha512(spki(ca))),
      record(2, 1, 0, spki(ca)),
    ]) {
      expect(matchTlsa([tlsa], [leaf, ca], names).status).toBe('matched');
    }
  });

  it('refuses a chain whose leaf does not name the MX host or next-hop domain (RFC 7672 3.2.2)', () => {
    const result = matchTlsa([record(2, 0, 1, sha256(ca.raw))], [leaf, ca], { hostnames: ['mx.elsewhere.example'] });
    expect(result.status).toBe('mismatch');
    expect(result.reason).toMatch(/does not name/);
  });

  it('refuses a leaf the anchor did not sign, even if the anchor is appended to the chain', () => {
    expect(matchTlsa([record(2, 0, 1, sha256(ca.raw))], [other, ca], names).status).toBe('mismatch');
  });

  it('refuses a leaf outside its validity period', () => {
    const later = new Date(Date.now() + 10 * 24 * 3600 * 1000);
    expect(
      matchTlsa([record(2, 0, 1, sha256(ca.raw))], [leaf, ca], { ...names, now: () => later.getTime() }).status,
    ).toBe('mismatch');
  });

  it('reports a mismatch when the anchor is not in the chain the server sent', () => {
    expect(matchTlsa([record(2, 0, 1, sha256(ca.raw))], [leaf], names).status).toBe('mismatch');
  });
});

describe('matchTlsa: usability', () => {
  it('calls PKIX-TA(0)/PKIX-EE(1) and unknown parameters unusable for SMTP (RFC 7672 3.1.3)', () => {
    const unusable = [
      record(0, 0, 1, sha256(ca.raw)),
      record(1, 0, 1, sha256(leaf.raw)),
      record(3, 2, 1, sha256(leaf.raw)),
      record(3, 0, 3, sha256(leaf.raw)),
    ];
    expect(matchTlsa(unusable, [leaf, ca], names).status).toBe('unusable');
  });

  it('matches when one usable record matches among unusable and wrong ones', () => {
    const set = [
      record(1, 0, 1, sha256(leaf.raw)),
      record(3, 1, 1, sha256(spki(other))),
      record(3, 1, 1, sha256(spki(leaf))),
    ];
    expect(matchTlsa(set, [leaf], names).status).toBe('matched');
  });

  it('reports an empty or unparsable chain as a mismatch', () => {
    expect(matchTlsa([record(3, 1, 1, sha256(spki(leaf)))], [], names).status).toBe('mismatch');
    expect(matchTlsa([record(3, 1, 1, sha256(spki(leaf)))], [new Uint8Array([1, 2, 3])], names).status).toBe(
      'mismatch',
    );
  });
});
