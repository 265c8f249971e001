// A PKCS #10 certificate request (RFC 2986) for the names of one certificate, built with
// node:crypto and a few lines of DER. acme-client's own CSR code goes through @peculiar/x509,
// whose ASN.1 schema registry breaks when npm installs two copies of @peculiar/asn1-schema (as
// this repository's lock does, through mailauth); this has no such dependency.
import { createPublicKey, type KeyObject, sign } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER element: tag, length, contents (X.690 8.1). */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let value = arc; ; value = Math.floor(value / 128)) {
      groups.unshift(value % 128);
      if (value < 128) break;
    }
    bytes.push(...groups.map((group, index) => (index < groups.length - 1 ? group | 0x80 : group)));
  }
  return der(0x06, Buffer.from(bytes));
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OIDS = {
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
};

/** The DER request for `names` (the first is the subject's common name), signed with `key` (RSA or P-256). */
export function createCertificateRequest(names: readonly string[], key: KeyObject): Buffer {
  if (names.length === 0) throw new Error('a certificate request needs at least one name');
  const subject = der(SEQUENCE, der(SET, der(SEQUENCE, oid(OIDS.commonName), der(0x0c, Buffer.from(names[0]!)))));
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  // RFC 5280 4.2.1.6: dNSName is [2] IMPLICIT IA5String.
  const generalNames = der(SEQUENCE, ...names.map((name) => der(0x82, Buffer.from(name, 'ascii'))));
  const extensions = der(SEQUENCE, der(SEQUENCE, oid(OIDS.subjectAltName), der(0x04, generalNames)));
  // RFC 2986 4.1: attributes [0] IMPLICIT SET OF Attribute; RFC 2985 5.4.2 extensionRequest.
  const attributes = der(0xa0, der(SEQUENCE, oid(OIDS.extensionRequest), der(SET, extensions)));
  const info = der(SEQUENCE, der(0x02, Buffer.from([0])), subject, spki, attributes);
  const rsa = key.asymmetricKeyType === 'rsa';
  const algorithm = rsa ? der(SEQUENCE, oid(OIDS.sha256WithRsa), der(0x05)) : der(SEQUENCE, oid(OIDS.ecdsaWithSha256));
  const signature = sign('sha256', info, key);
  return der(SEQUENCE, info, algorithm, der(0x03, Buffer.from([0]), signature));
}

/** The request as PEM (what acme-client's finalizeOrder takes). */
export function certificateRequestPem(request: Buffer): string {
  const lines = request.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
