// Names in the Maildir tree: the directory of a mailbox (`{domain}/{localpart}`, what Dovecot's
// `mail_location = maildir:{state}/mail/%d/%n` expands to) and the file name of one delivery,
// which is derived from the queue id and the recipient so that a second attempt finds the first.
import { createHash } from 'node:crypto';
import { LocalDeliveryError } from './local-delivery-error';
import { splitAddress } from './mailbox-address';

// Characters a directory name must not hold as they are: the path separator, the escape itself,
// a backslash (a path separator to some tools), NUL and control characters.
const UNSAFE = /[/\\%\x00-\x1f\x7f]/g;

/**
 * The directory name of a local part or domain. Ordinary names (letters, digits, `.-_+` and the
 * other atext characters, non-ASCII letters) stay as they are, so Dovecot's `%n` and `%d` match.
 * An unsafe character becomes `%XX` (its UTF-8 bytes in upper-case hex), `%` itself included, so
 * the mapping is reversible (`decodeURIComponent` gives the name back); a leading `.` becomes
 * `%2E`, so no name is `.`, `..` or a hidden Maildir++ folder.
 */
export function directoryName(part: string): string {
  if (part === '') throw new LocalDeliveryError('INVALID_ADDRESS', 'an empty local part or domain has no mailbox');
  const escaped = part.replace(UNSAFE, (c) => percentEncode(c));
  return escaped.startsWith('.') ? `%2E${escaped.slice(1)}` : escaped;
}

function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** The mailbox directory, relative to the Maildir root, of a canonical `local@domain`. */
export function mailboxPath(mailbox: string): { domain: string; local: string } {
  const parts = splitAddress(mailbox);
  if (parts === null || parts.domain === '') {
    throw new LocalDeliveryError('INVALID_ADDRESS', `${JSON.stringify(mailbox)} is not a local@domain mailbox`);
  }
  return { domain: directoryName(parts.domain), local: directoryName(parts.local) };
}

/**
 * The host part of a Maildir file name: `/` and `:` are written `\057` and `\072`, as the
 * Maildir specification (cr.yp.to/proto/maildir.html) asks, and `,` (which starts the `S=`
 * field) `\054`, as Dovecot does.
 */
export function maildirHostname(hostname: string): string {
  return hostname.replace(/[/:,]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The stable part of a delivery's file name: `{seconds}.Q{queueId}.R{hash}.{host}`, the time the
 * message was queued (so files sort by arrival), the queue id and 8 hex digits of the recipient's
 * SHA-256 (one message, several recipients of one Maildir: different names). The same (message,
 * recipient) always gets the same name, which is what makes exactly-once delivery checkable.
 */
export function deliveryBaseName(queueId: string, recipient: string, createdAt: number, host: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(queueId)) {
    throw new LocalDeliveryError(
      'INVALID_ADDRESS',
      `queue id ${JSON.stringify(queueId)} cannot be part of a file name`,
    );
  }
  const hash = createHash('sha256').update(recipient).digest('hex').slice(0, 8);
  return `${Math.floor(createdAt / 1000)}.Q${queueId}.R${hash}.${host}`;
}

/** The name in `new/`: the base and the file size (`,S=`), which Dovecot reads instead of a stat. */
export function deliveryFileName(base: string, size: number): string {
  return `${base},S=${size}`;
}

/**
 * True when a file name in `new/` or `cur/` is the delivery with this base: the base followed by
 * the end, `,` (more fields: `S=`, `W=`) or `:` (Dovecot's `:2,FLAGS` once it moved it to cur/).
 */
export function isDeliveryOf(name: string, base: string): boolean {
  if (!name.startsWith(base)) return false;
  const next = name[base.length];
  return next === undefined || next === ',' || next === ':';
}

/** The `S=` size of a Maildir file name, or undefined when it has none. */
export function sizeFromName(name: string): number | undefined {
  const colon = name.indexOf(':');
  const match = /,S=(\d+)/.exec(colon === -1 ? name : name.slice(0, colon));
  return match === null ? undefined : Number(match[1]);
}
