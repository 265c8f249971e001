// Key generation, the record to publish, and loading a private key with a clear error.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DkimError } from './dkim-error';
import { keyRecordName, normalizeDomain, normalizeSelector } from './internal/dns-name';
import { splitTxtValue } from './internal/key-record';
import { loadPrivateKey, publicKeyBytes } from './internal/private-key';

/** A key algorithm as DKIM names it in k= (RFC 6376 3.6.1, RFC 8463). */
export type KeyAlgorithm = 'rsa' | 'ed25519';

/** Options of generateKey. */
export interface GenerateKeyOptions {
  /** Default 'rsa' (every verifier knows it; Ed25519 is not yet checked by all). */
  algorithm?: KeyAlgorithm;
  /** RSA modulus length, 1024 to 4096, default 2048 (RFC 8301 3.2). Ignored for Ed25519. */
  bits?: number;
}

/** A new key pair and what to publish. */
export interface GeneratedKey {
  algorithm: KeyAlgorithm;
  /** The private key, PKCS#8 PEM: keep it secret (mode 0600). */
  privateKey: string;
  /** The TXT record value, exactly as it must read in DNS: `v=DKIM1; k=...; p=...`. */
  record: string;
  /** The same value cut into character-strings of at most 255 octets, for zone files and DNS panels. */
  recordStrings: string[];
}

/** What a private key publishes. */
export interface KeyRecordInfo {
  algorithm: KeyAlgorithm;
  /** RSA modulus bits, 256 for Ed25519. */
  bits: number;
  /** The base64 p= value. */
  publicKey: string;
  /** `v=DKIM1; k=...; p=...` */
  record: string;
  recordStrings: string[];
}

/** Generates a signing key and the exact TXT record value to publish for it. */
export function generateKey(options: GenerateKeyOptions = {}): GeneratedKey {
  const algorithm = options.algorithm ?? 'rsa';
  let privateKey: KeyObject;
  if (algorithm === 'rsa') {
    const bits = options.bits ?? 2048;
    if (!Number.isInteger(bits) || bits < 1024 || bits > 4096) {
      throw new DkimError('INVALID_OPTION', `bits must be an integer from 1024 to 4096 (RFC 8301 3.2), not ${bits}`);
    }
    privateKey = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
  } else if (algorithm === 'ed25519') {
    privateKey = generateKeyPairSync('ed25519').privateKey;
  } else {
    throw new DkimError('INVALID_OPTION', `algorithm must be "rsa" or "ed25519", not "${String(algorithm)}"`);
  }
  const info = describeKey(privateKey);
  return {
    algorithm,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    record: info.record,
    recordStrings: info.recordStrings,
  };
}

/** Reads a private key (PEM, DER, KeyObject or base64 Ed25519 seed); errors name `source` (e.g. the file). */
export function parsePrivateKey(input: string | Uint8Array | KeyObject, source?: string): KeyObject {
  return loadPrivateKey(input, source).key;
}

/** The algorithm, size, public key and TXT record value of a private key. */
export function describeKey(privateKey: string | Uint8Array | KeyObject, source?: string): KeyRecordInfo {
  const loaded = loadPrivateKey(privateKey, source);
  const publicKey = publicKeyBytes(loaded).toString('base64');
  const record = `v=DKIM1; k=${loaded.algorithm}; p=${publicKey}`;
  return { algorithm: loaded.algorithm, bits: loaded.bits, publicKey, record, recordStrings: splitTxtValue(record) };
}

/** The DNS name a key is published at: `<selector>._domainkey.<domain>` (checked, IDN in A-labels). */
export function keyRecordNameFor(domain: string, selector: string): string {
  return keyRecordName(normalizeSelector(selector), normalizeDomain(domain));
}
