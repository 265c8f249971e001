import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateRequestPem, createCertificateRequest } from '../../src/server/acme/certificate-request';

/** OpenSSL's reading of a request: it checks the self-signature and prints the fields. */
function openssl(pem: string): string {
  return execFileSync('openssl', ['req', '-noout', '-verify', '-text'], { input: pem, stdio: 'pipe' }).toString();
}

describe('the certificate request sent to the CA', () => {
  it('is a PKCS #10 request OpenSSL verifies, RSA-signed, with every name in its subjectAltName', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = certificateRequestPem(createCertificateRequest(['mx.example.org', 'mta-sts.example.org'], privateKey));
    const text = openssl(pem);
    expect(text).toContain('Subject: CN = mx.example.org');
    expect(text).toContain('DNS:mx.example.org, DNS:mta-sts.example.org');
    expect(text).toContain('sha256WithRSAEncryption');
  });

  it('works with a P-256 key too, and with names long enough for multi-byte DER lengths', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const names = Array.from({ length: 40 }, (_, i) => `mta-sts.domain-number-${i}.example.org`);
    const text = openssl(certificateRequestPem(createCertificateRequest(names, privateKey)));
    expect(text).toContain('ecdsa-with-SHA256');
    expect(text).toContain('DNS:mta-sts.domain-number-39.example.org');
  });

  it('refuses to make a request without a name', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => createCertificateRequest([], privateKey)).toThrow(/at least one name/);
  });
});
