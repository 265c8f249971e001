// The Sender Rewriting Scheme for forwarded mail (SRS0, as Shevek's and Postfix's postsrsd write
// it): the envelope sender of a message we forward becomes an address of ours, so the
// destination's SPF check is about our host, and a bounce to it comes back to us and is routed
// to the original sender. SRS0=HHHH=TT=domain=local@ourdomain: TT is the day (base32, mod 1024),
// HHHH the first four base32 characters of HMAC-SHA256(secret, TT/domain/local), checked
// case-insensitively (some MTAs lower-case local parts). A bounce to an address older than
// MAX_AGE_DAYS, or with a wrong hash, is refused like an unknown user: no open bounce relay.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const MAX_AGE_DAYS = 21;
const DAY_MS = 86_400_000;

/** Rewrites senders and reads rewritten addresses back. */
export interface Srs {
  /** The SRS0 address at `domain` for `sender` (the null sender stays null). */
  forward(sender: string, domain: string): string;
  /** The original sender of an SRS0 address of ours, or undefined when it is not a valid one. */
  reverse(address: string): string | undefined;
}

function base32(bytes: Buffer, length: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= length) break;
  }
  return out;
}

function dayStamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % 1024;
  return BASE32[day >> 5]! + BASE32[day & 31]!;
}

function ageOf(stamp: string, now: number): number | undefined {
  const high = BASE32.indexOf(stamp[0]?.toLowerCase() ?? '');
  const low = BASE32.indexOf(stamp[1]?.toLowerCase() ?? '');
  if (stamp.length !== 2 || high < 0 || low < 0) return undefined;
  const today = Math.floor(now / DAY_MS) % 1024;
  return (today - ((high << 5) | low) + 1024) % 1024;
}

/** An SRS codec with `secret` (keep it across restarts, or bounces in flight are refused). */
export function createSrs(secret: Buffer, now: () => number = Date.now): Srs {
  const hash = (stamp: string, domain: string, local: string) =>
    base32(createHmac('sha256', secret).update(`${stamp.toLowerCase()}/${domain.toLowerCase()}/${local}`).digest(), 4);
  return {
    forward(sender, domain) {
      if (sender === '') return '';
      const at = sender.lastIndexOf('@');
      const local = sender.slice(0, at);
      const senderDomain = sender.slice(at + 1);
      const stamp = dayStamp(now());
      return `SRS0=${hash(stamp, senderDomain, local)}=${stamp}=${senderDomain}=${local}@${domain}`;
    },
    reverse(address) {
      const at = address.lastIndexOf('@');
      const match = /^SRS0=([^=]{4})=([^=]{2})=([^=]+)=(.+)$/i.exec(address.slice(0, at));
      if (match === null) return undefined;
      const [, given, stamp, domain, local] = match as unknown as [string, string, string, string, string];
      const age = ageOf(stamp, now());
      if (age === undefined || age > MAX_AGE_DAYS) return undefined;
      const expected = Buffer.from(hash(stamp, domain, local));
      const actual = Buffer.from(given.toLowerCase());
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
      return `${local}@${domain}`;
    },
  };
}

/** The SRS secret at `{state}/srs.key`, made (32 random bytes, mode 600, fsynced) on first start. */
export async function loadSrsSecret(state: string): Promise<Buffer> {
  const file = join(state, 'srs.key');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (text.length >= 32) return Buffer.from(text, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(32).toString('base64url');
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${secret}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  return Buffer.from(secret, 'utf8');
}
