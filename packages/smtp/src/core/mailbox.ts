import punycode from 'punycode/punycode.js';
import { isIPv4Literal, isIPv6Literal } from './address-literal';

/** A mailbox from a MAIL FROM or RCPT TO path (RFC 5321 4.1.2). */
export interface Mailbox {
  /** The local part as sent: a dot-string, or a quoted string with its quotes. */
  localPart: string;
  /** The domain, lower-cased, IDN labels converted to A-labels; or an address literal like `[192.0.2.1]`. */
  domain: string;
  /** `localPart@domain`; for `<Postmaster>` without a domain, just `Postmaster`. */
  address: string;
  /** True when the local part holds non-ASCII characters, which needs SMTPUTF8 (RFC 6531). */
  utf8: boolean;
}

/** The result of parsing a mailbox or path: the mailbox, or why it is not one. */
export type MailboxResult = { ok: true; mailbox: Mailbox } | { ok: false; reason: string };

// RFC 5321 4.1.2 atext (RFC 5322 3.2.3), extended with any non-ASCII character for SMTPUTF8 (RFC 6531 3.3).
const ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** Parses a domain (RFC 5321 4.1.2 Domain) and returns it lower-cased with A-labels, or null. */
export function normaliseDomain(domain: string): string | null {
  if (domain.length === 0 || domain.length > 255) return null;
  let ascii = domain;
  if (NON_ASCII.test(domain)) {
    try {
      // RFC 5890: U-labels go on the wire as A-labels; NFC and lower case first (RFC 5895 mapping).
      ascii = punycode.toASCII(domain.normalize('NFC').toLowerCase());
    } catch {
      return null;
    }
  }
  ascii = ascii.toLowerCase();
  if (ascii.length > 255) return null;
  for (const label of ascii.split('.')) if (!LABEL.test(label)) return null;
  return ascii;
}

/** Checks an address literal (RFC 5321 4.1.3): `[IPv4]`, `[IPv6:...]` or `[tag:content]`. */
export function isAddressLiteral(text: string): boolean {
  if (text.length < 3 || text[0] !== '[' || text[text.length - 1] !== ']') return false;
  const inner = text.slice(1, -1);
  if (isIPv4Literal(inner)) return true;
  // The tag "IPv6" is standardised (RFC 5321 4.1.3): what follows must be an IPv6 address.
  if (/^ipv6:/i.test(inner)) return isIPv6Literal(inner.slice(5));
  // General-address-literal: Standardized-tag ":" 1*dcontent (printable ASCII but [ \ ]).
  return /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/.test(inner);
}

function parseLocalPart(text: string): { localPart: string; rest: string } | null {
  if (text.startsWith('"')) {
    // RFC 5321 4.1.2 Quoted-string: qtextSMTP or quoted-pairSMTP (backslash + printable ASCII).
    let i = 1;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        const next = text.charCodeAt(i + 1);
        if (!(next >= 0x20 && next <= 0x7e)) return null;
        i += 2;
        continue;
      }
      if (c < 0x20 || c === 0x7f) return null;
      i++;
    }
    if (i >= text.length) return null;
    return { localPart: text.slice(0, i + 1), rest: text.slice(i + 1) };
  }
  const at = text.indexOf('@');
  const localPart = at === -1 ? text : text.slice(0, at);
  const atoms = localPart.split('.');
  for (const atom of atoms) if (!ATOM.test(atom)) return null;
  return { localPart, rest: at === -1 ? '' : text.slice(at) };
}

/** Parses `local-part@domain` (no angle brackets). */
export function parseMailbox(text: string): MailboxResult {
  const local = parseLocalPart(text);
  if (local === null) return { ok: false, reason: 'bad local part' };
  const { localPart, rest } = local;
  // RFC 5321 4.5.3.1.1: local part at most 64 octets.
  // Up to 21 UTF-16 units is at most 63 octets of UTF-8: no need to count.
  if (localPart.length > 21 && Buffer.byteLength(localPart) > 64)
    return { ok: false, reason: 'local part longer than 64 octets' };
  if (!rest.startsWith('@')) {
    // RFC 5321 4.5.1: "Postmaster" without a domain must be accepted as a recipient.
    if (rest === '' && localPart.toLowerCase() === 'postmaster') {
      return { ok: true, mailbox: { localPart, domain: '', address: localPart, utf8: false } };
    }
    return { ok: false, reason: 'missing @domain' };
  }
  const rawDomain = rest.slice(1);
  let domain: string | null;
  if (rawDomain.startsWith('[')) domain = isAddressLiteral(rawDomain) ? rawDomain : null;
  else domain = normaliseDomain(rawDomain);
  if (domain === null) return { ok: false, reason: 'bad domain' };
  const utf8 = NON_ASCII.test(localPart);
  return { ok: true, mailbox: { localPart, domain, address: `${localPart}@${domain}`, utf8 } };
}

/**
 * Parses a path `<mailbox>` (RFC 5321 4.1.2 Path). A source route (`<@a,@b:user@c>`) is
 * accepted and dropped, as RFC 5321 C asks of servers. `<>` is not a path here: callers that
 * accept the null reverse-path check for it first.
 */
export function parsePath(text: string): MailboxResult {
  if (text.length < 2 || text[0] !== '<' || text[text.length - 1] !== '>') {
    return { ok: false, reason: 'the address must be in angle brackets' };
  }
  // RFC 5321 4.5.3.1.3: a path is at most 256 octets including the brackets.
  // Up to 85 UTF-16 units is at most 255 octets of UTF-8: no need to count.
  if (text.length > 85 && Buffer.byteLength(text) > 256) return { ok: false, reason: 'path longer than 256 octets' };
  let inner = text.slice(1, -1);
  if (inner.startsWith('@')) {
    const colon = inner.indexOf(':');
    if (colon === -1) return { ok: false, reason: 'bad source route' };
    for (const hop of inner.slice(0, colon).split(',')) {
      if (!hop.startsWith('@') || normaliseDomain(hop.slice(1)) === null)
        return { ok: false, reason: 'bad source route' };
    }
    inner = inner.slice(colon + 1);
  }
  return parseMailbox(inner);
}
