// Unit tests with an injected resolver; the same check against the real loopback DNS server is in
// published-key-dns.test.ts.
import { describe, expect, it } from 'vitest';
import { checkPublishedKey, describeKey, generateKey, type TxtResolver } from '../src/index';

const rsa = generateKey({ algorithm: 'rsa', bits: 1024 });
const other = generateKey({ algorithm: 'rsa', bits: 1024 });
const ed = generateKey({ algorithm: 'ed25519' });
const NAME = 'sel._domainkey.example.com';

function resolverWith(records: string[] | { code: string }): TxtResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async resolveTxt(name: string) {
      asked.push(name);
      if (!Array.isArray(records)) throw Object.assign(new Error(`lookup failed: ${records.code}`), records);
      return { records };
    },
  };
}

const check = (records: string[] | { code: string }, privateKey = rsa.privateKey) => {
  const resolver = resolverWith(records);
  return checkPublishedKey({ domain: 'example.com', selector: 'sel', privateKey }, resolver).then((report) => ({
    report,
    asked: resolver.asked,
  }));
};

describe('checkPublishedKey', () => {
  it('says ok when the record matches, and asks selector._domainkey.domain', async () => {
    const { report, asked } = await check([rsa.record]);
    expect(asked).toEqual([NAME]);
    expect(report).toMatchObject({ status: 'ok', name: NAME, found: rsa.record, expected: rsa.record });
  });

  it('accepts the same key written differently (no v=, extra spaces, PKCS#1 key data)', async () => {
    const p = describeKey(rsa.privateKey).publicKey;
    expect((await check([`k=rsa;  p=${p.slice(0, 40)} ${p.slice(40)} ;`])).report.status).toBe('ok');
    const { createPublicKey } = await import('node:crypto');
    const pkcs1 = createPublicKey(rsa.privateKey).export({ format: 'der', type: 'pkcs1' }).toString('base64');
    expect((await check([`v=DKIM1; p=${pkcs1}`])).report.status).toBe('ok');
    expect((await check([ed.record], ed.privateKey)).report.status).toBe('ok');
  });

  it('says missing for NXDOMAIN and NODATA, with the record to publish', async () => {
    for (const code of ['NXDOMAIN', 'NODATA']) {
      const { report } = await check({ code });
      expect(report).toMatchObject({ status: 'missing', dnsCode: code });
      expect(report.detail).toContain(rsa.record);
    }
  });

  it('says dns-failure for SERVFAIL and TIMEOUT', async () => {
    for (const code of ['SERVFAIL', 'TIMEOUT']) {
      expect((await check({ code })).report).toMatchObject({ status: 'dns-failure', dnsCode: code });
    }
  });

  it('says wrong-key for another key or another key type', async () => {
    expect((await check([other.record])).report.status).toBe('wrong-key');
    expect((await check([ed.record])).report.status).toBe('wrong-key');
  });

  it('says revoked for an empty p=', async () => {
    expect((await check(['v=DKIM1; k=rsa; p='])).report.status).toBe('revoked');
  });

  it('says testing for t=y on a matching key', async () => {
    const { report } = await check([`v=DKIM1; t=y; ${rsa.record.slice('v=DKIM1; '.length)}`]);
    expect(report.status).toBe('testing');
    expect(report.detail).toMatch(/t=y/);
  });

  it('says malformed, and why, for records verifiers would reject', async () => {
    const p = describeKey(rsa.privateKey).publicKey;
    const malformed: [string[], RegExp][] = [
      [['v=DKIM2; p=abc'], /DKIM1/],
      [[`k=rsa; v=DKIM1; p=${p}`], /first/],
      [['v=DKIM1; k=rsa'], /no p=/],
      [['v=DKIM1; p=not*base64'], /base64/],
      [['v=DKIM1; p=AAAA'], /not a valid rsa public key/],
      [[`v=DKIM1; k=dsa; p=${p}`], /k=dsa/],
      [[`v=DKIM1; h=sha1; p=${p}`], /sha256/],
      [['garbage without equals'], /tag=value/],
      [[rsa.record, other.record], /2 TXT records/],
    ];
    for (const [records, reason] of malformed) {
      const { report } = await check(records);
      expect(report.status, records.join(' | ')).toBe('malformed');
      expect(report.detail).toMatch(reason);
    }
  });

  it('throws a DkimError for an invalid domain or key before asking DNS', async () => {
    const resolver = resolverWith([rsa.record]);
    await expect(
      checkPublishedKey({ domain: 'bad domain', selector: 'sel', privateKey: rsa.privateKey }, resolver),
    ).rejects.toMatchObject({ code: 'INVALID_DOMAIN' });
    await expect(
      checkPublishedKey({ domain: 'example.com', selector: 'sel', privateKey: 'junk' }, resolver),
    ).rejects.toMatchObject({ code: 'KEY_MALFORMED' });
    expect(resolver.asked).toEqual([]);
  });
});
