// Private keys: PEM (PKCS#8, PKCS#1), DER, a KeyObject, or the bare base64 Ed25519 seed that
// RFC 8463 A.1, dkimpy and OpenDKIM use. Errors say what is wrong and, when known, where the key came from.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { DkimError } from '../dkim-error';

/** A private key accepted by the signer and the key check. */
export type PrivateKeyInput = string | Uint8Array | KeyObject;

export type KeyAlgorithm = 'rsa' | 'ed25519';

export interface LoadedKey {
  readonly key: KeyObject;
  readonly algorithm: KeyAlgorithm;
  /** RSA modulus length in bits; 256 for Ed25519. */
  readonly bits: number;
}

// RFC 8410: PKCS#8 wrapping of a 32-byte Ed25519 seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const MIN_RSA_BITS = 1024;
const MAX_RSA_BITS = 4096;

export function loadPrivateKey(input: PrivateKeyInput, source?: string): LoadedKey {
  const where = source ? ` in ${source}` : '';
  let key: KeyObject;
  if (isKeyObject(input)) key = input;
  else key = parseKey(input, where);
  if (key.type !== 'private') {
    throw new DkimError('KEY_UNSUPPORTED', `the key${where} is a ${key.type} key: signing needs the private key`);
  }
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return { key, algorithm: 'ed25519', bits: 256 };
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      throw new DkimError(
        'KEY_UNSUPPORTED',
        `the RSA key${where} has ${bits} bits: DKIM keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} (RFC 8301 3.2); generate a 2048-bit key`,
      );
    }
    return { key, algorithm: 'rsa', bits };
  }
  throw new DkimError(
    'KEY_UNSUPPORTED',
    `the key${where} is a ${type ?? 'unknown'} key: DKIM signs with RSA (rsa-sha256) or Ed25519 (ed25519-sha256)`,
  );
}

/** The public half as DKIM publishes it: SPKI DER for RSA (RFC 6376 3.6.1), the raw 32 bytes for Ed25519 (RFC 8463 4). */
export function publicKeyBytes(loaded: LoadedKey): Buffer {
  const spki = createPublicKey(loaded.key).export({ format: 'der', type: 'spki' });
  return loaded.algorithm === 'ed25519' ? spki.subarray(spki.length - 32) : spki;
}

function isKeyObject(input: PrivateKeyInput): input is KeyObject {
  return typeof input === 'object' && input !== null && 'asymmetricKeyType' in input && 'export' in input;
}

function parseKey(input: string | Uint8Array, where: string): KeyObject {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const trimmed = text.trim();
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(trimmed)) {
    throw new DkimError(
      'KEY_ENCRYPTED',
      `the private key${where} is encrypted with a passphrase: decrypt it first (openssl pkey -in KEY -out PLAIN)`,
    );
  }
  if (/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) {
    // A bare base64 Ed25519 seed (RFC 8463 A.1).
    const seed = Buffer.from(trimmed, 'base64');
    return wrap(
      () => createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
      where,
    );
  }
  if (trimmed.includes('-----BEGIN')) {
    if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(trimmed)) {
      throw new DkimError('KEY_UNSUPPORTED', `the file${where} holds a public key: signing needs the private key`);
    }
    return wrap(() => createPrivateKey({ key: trimmed, format: 'pem' }), where);
  }
  if (typeof input !== 'string' && !/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text)) {
    return wrap(() => createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8' }), where);
  }
  throw new DkimError(
    'KEY_MALFORMED',
    `the private key${where} is not a PEM key (-----BEGIN PRIVATE KEY-----) nor a base64 Ed25519 seed`,
  );
}

function wrap(parse: () => KeyObject, where: string): KeyObject {
  try {
    return parse();
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new DkimError('KEY_MALFORMED', `the private key${where} cannot be read (${detail})`, { cause });
  }
}
