// Password hashes of the users file: argon2id (RFC 9106) in the PHC string format. The argon2 npm
// package ships prebuilt binaries for Linux, macOS, FreeBSD and Windows inside the package, so it
// installs with no download and no compiler; node:crypto has no argon2 before Node 24.7.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';

/**
 * The cost of a new hash: OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane). One lane because
 * libsodium, which Dovecot's {ARGON2ID} scheme verifies with, hashes with p=1; a small memory cost
 * because a mail server verifies a password on every AUTH and every IMAP login, often in parallel.
 */
export const hashCost = { memoryKiB: 19_456, passes: 2, lanes: 1 } as const;

const types = { argon2d: 0, argon2i: 1, argon2id: 2 } as const;

/** A decoded PHC argon2 string. */
interface Argon2Hash {
  type: keyof typeof types;
  memoryKiB: number;
  passes: number;
  lanes: number;
  salt: Buffer;
  digest: Buffer;
}

// PHC string format: base64 without padding (the standard alphabet).
const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/**
 * Decodes `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (parameters in any order), or says what is wrong.
 * Parameters are bounded so a bad users file cannot make each login cost gigabytes or minutes.
 */
export function parseArgon2Hash(text: string): Argon2Hash | string {
  const match = /^\$(argon2id|argon2i|argon2d)\$v=(\d+)\$([^$]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(text);
  if (match === null) return 'not an argon2 PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)';
  if (match[2] !== '19') return `argon2 version v=${match[2]} is not supported (only v=19)`;
  const params = new Map(match[3]!.split(',').map((part) => part.split('=') as [string, string]));
  const memoryKiB = Number(params.get('m'));
  const passes = Number(params.get('t'));
  const lanes = Number(params.get('p'));
  if (![memoryKiB, passes, lanes].every(Number.isInteger)) return 'the argon2 parameters m, t and p must be numbers';
  if (lanes < 1 || lanes > 16 || passes < 1 || passes > 16 || memoryKiB < 8 * lanes || memoryKiB > 1_048_576) {
    return 'the argon2 parameters are out of range (m up to 1048576 KiB, t and p from 1 to 16)';
  }
  const salt = Buffer.from(match[4]!, 'base64');
  const digest = Buffer.from(match[5]!, 'base64');
  if (salt.length < 8 || digest.length < 16) return 'the argon2 salt or hash is too short';
  return { type: match[1] as Argon2Hash['type'], memoryKiB, passes, lanes, salt, digest };
}

/** Hashes a password as a new `$argon2id$v=19$m=19456,t=2,p=1$salt$hash` string (random 16-byte salt). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const digest = await argon2.hash(password, {
    type: types.argon2id,
    memoryCost: hashCost.memoryKiB,
    timeCost: hashCost.passes,
    parallelism: hashCost.lanes,
    hashLength: 32,
    salt,
    raw: true,
  });
  // Written by hand rather than by the package, because libsodium and the reference argon2 code
  // (Dovecot, Python's argon2-cffi) only read the parameters in the order m, t, p.
  return `$argon2id$v=19$m=${hashCost.memoryKiB},t=${hashCost.passes},p=${hashCost.lanes}$${b64(salt)}$${b64(digest)}`;
}

/**
 * True when `password` gives `hash`. The digests are compared in constant time; a hash that is
 * not a valid argon2 string is never a match (and takes the time of one, not a shortcut).
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseArgon2Hash(hash.replace(/^\{ARGON2ID\}/i, ''));
  const target =
    typeof parsed === 'string'
      ? { type: 'argon2id' as const, ...hashCost, salt: randomBytes(16), digest: randomBytes(32) }
      : parsed;
  const computed = await argon2.hash(password, {
    type: types[target.type],
    memoryCost: target.memoryKiB,
    timeCost: target.passes,
    parallelism: target.lanes,
    hashLength: target.digest.length,
    salt: target.salt,
    raw: true,
  });
  return typeof parsed !== 'string' && timingSafeEqual(computed, target.digest);
}
