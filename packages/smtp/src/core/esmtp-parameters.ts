import type { Reply } from './reply';
import { reply } from './reply-format';

/** MAIL FROM parameters this server understands. */
export interface MailParameters {
  /** SIZE= (RFC 1870): the size the client announces, in octets. */
  size?: number;
  /** BODY= (RFC 6152): 7BIT or 8BITMIME. */
  body?: '7BIT' | '8BITMIME';
  /** SMTPUTF8 (RFC 6531 3.4). */
  smtputf8: boolean;
  /** AUTH= (RFC 4954 5), xtext-decoded; `<>` when the client gives none. */
  auth?: string;
  /** RET= (RFC 3461 4.3): return the full message or headers only in a DSN. */
  ret?: 'FULL' | 'HDRS';
  /** ENVID= (RFC 3461 4.4), xtext-decoded. */
  envid?: string;
}

/** RCPT TO parameters this server understands (RFC 3461). */
export interface RcptParameters {
  /** NOTIFY= (RFC 3461 4.1): NEVER alone, or any of SUCCESS, FAILURE, DELAY. */
  notify?: ('NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY')[];
  /**
   * ORCPT= (RFC 3461 4.2): address type (lower-case) and the original recipient, decoded: xtext
   * for every type, and for `utf-8` also RFC 6533 3's `\x{HEX}` escapes (so `address` is the
   * plain Unicode address whichever of its forms the client sent).
   */
  orcpt?: { type: string; address: string };
}

/** Parameters parsed, or the reply that rejects them. */
export type ParametersResult<T> = { ok: true; params: T } | { ok: false; reply: Reply };

/** Decodes RFC 3461 4 xtext (`+HH` escapes, octets read as UTF-8); null when malformed. */
export function decodeXtext(text: string): string | null {
  if (!/^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/.test(text)) return null;
  if (!text.includes('+')) return text;
  // The escapes are octets; read them back as UTF-8 so that encodeXtext round-trips.
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '+') {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Encodes a string as RFC 3461 4 xtext: `+`, `=`, controls and non-ASCII become `+HH` (UTF-8 octets). */
export function encodeXtext(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte < 0x21 || byte > 0x7e || byte === 0x2b || byte === 0x3d
        ? `+${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/**
 * Encodes an address as RFC 6533 3's `utf-8-addr-xtext` (`unitext: false`: 7-bit, every non-ASCII
 * character as `\x{HEX}`, safe without SMTPUTF8) or `utf-8-addr-unitext` (`unitext: true`:
 * non-ASCII as UTF-8, only for a server that offers SMTPUTF8). Either way the characters outside
 * QCHAR (controls, space, `+`, `=`, `\`) become `\x{HEX}`.
 */
export function encodeUtf8AddrXtext(address: string, unitext = false): string {
  let out = '';
  for (const char of address) {
    const code = char.codePointAt(0)!;
    const qchar = code >= 0x21 && code <= 0x7e && char !== '+' && char !== '=' && char !== '\\';
    if (qchar || (unitext && code > 0x7f)) out += char;
    else out += `\\x{${code.toString(16).toUpperCase().padStart(2, '0')}}`;
  }
  return out;
}

/**
 * Decodes RFC 6533 3's `utf-8-addr-xtext` / `utf-8-addr-unitext` (`\x{HEX}` escapes; UTF-8 as it
 * is); null when malformed: a bad escape, a code point that is a surrogate or above U+10FFFF, or a
 * control character (a decoded CR or LF would end the command a relay writes it into).
 */
export function decodeUtf8AddrXtext(text: string): string | null {
  let out = '';
  for (let index = 0; index < text.length; ) {
    if (text.startsWith('\\x{', index)) {
      const end = text.indexOf('}', index + 3);
      const hex = end === -1 ? '' : text.slice(index + 3, end);
      if (!/^[0-9A-Fa-f]{2,6}$/.test(hex)) return null;
      const code = Number.parseInt(hex, 16);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return null;
      out += String.fromCodePoint(code);
      index = end + 1;
      continue;
    }
    const code = text.codePointAt(index)!;
    if (code === 0x5c) return null; // a backslash only starts an escape
    out += String.fromCodePoint(code);
    index += code > 0xffff ? 2 : 1;
  }
  // RFC 6533 3: the escapes stand for printable characters; controls never pass.
  return out === '' || /[\x00-\x20\x7f]/.test(out) ? null : out;
}

/**
 * The address of an ORCPT value after its `type;`: xtext (RFC 3461 4) for every type; for
 * `utf-8` (RFC 6533 3) the `\x{HEX}` forms, with raw UTF-8 allowed, and xtext `+HH` too (Postfix's
 * client xtext-encodes the whole `utf-8;...` value). Null when malformed.
 */
function orcptAddress(type: string, value: string): string | null {
  if (type !== 'utf-8') return decodeXtext(value);
  const ascii = /^[\x00-\x7f]*$/.test(value);
  const unplussed = value.includes('+') ? (ascii ? decodeXtext(value) : null) : value;
  return unplussed === null ? null : decodeUtf8AddrXtext(unplussed);
}

const SYNTAX = (text: string) => reply(501, '5.5.4', text);
// RFC 5321 4.1.1.11 / RFC 1869 6: an unrecognised parameter gets 555.
const UNKNOWN = (name: string) => reply(555, '5.5.4', `Unsupported parameter ${name}`);

function split(text: string): { name: string; value: string | undefined }[] | null {
  const out: { name: string; value: string | undefined }[] = [];
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const name = (eq === -1 ? word : word.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(name)) return null;
    out.push({ name, value: eq === -1 ? undefined : word.slice(eq + 1) });
  }
  return out;
}

/** Parses the parameters after `MAIL FROM:<path>`. */
export function parseMailParameters(text: string): ParametersResult<MailParameters> {
  const words = split(text);
  if (words === null) return { ok: false, reply: SYNTAX('Bad parameter syntax') };
  const params: MailParameters = { smtputf8: false };
  const seen = new Set<string>();
  for (const { name, value } of words) {
    if (seen.has(name)) return { ok: false, reply: SYNTAX(`Duplicate parameter ${name}`) };
    seen.add(name);
    switch (name) {
      case 'SIZE':
        if (value === undefined || !/^[0-9]{1,20}$/.test(value)) return { ok: false, reply: SYNTAX('Bad SIZE value') };
        params.size = Number(value);
        break;
      case 'BODY': {
        const body = value?.toUpperCase();
        if (body === '7BIT' || body === '8BITMIME') params.body = body;
        else if (body === 'BINARYMIME') return { ok: false, reply: reply(555, '5.5.4', 'BINARYMIME is not supported') };
        else return { ok: false, reply: SYNTAX('Bad BODY value') };
        break;
      }
      case 'SMTPUTF8':
        if (value !== undefined) return { ok: false, reply: SYNTAX('SMTPUTF8 takes no value') };
        params.smtputf8 = true;
        break;
      case 'AUTH': {
        const auth = value === undefined ? null : value === '<>' ? '<>' : decodeXtext(value);
        if (auth === null) return { ok: false, reply: SYNTAX('Bad AUTH value') };
        params.auth = auth;
        break;
      }
      case 'RET': {
        const ret = value?.toUpperCase();
        if (ret !== 'FULL' && ret !== 'HDRS') return { ok: false, reply: SYNTAX('Bad RET value') };
        params.ret = ret;
        break;
      }
      case 'ENVID': {
        const envid = value === undefined ? null : decodeXtext(value);
        // RFC 3461 4.4: at most 100 characters.
        if (envid === null || value!.length > 100) return { ok: false, reply: SYNTAX('Bad ENVID value') };
        params.envid = envid;
        break;
      }
      default:
        return { ok: false, reply: UNKNOWN(name) };
    }
  }
  return { ok: true, params };
}

/** Parses the parameters after `RCPT TO:<path>`. */
export function parseRcptParameters(text: string): ParametersResult<RcptParameters> {
  const words = split(text);
  if (words === null) return { ok: false, reply: SYNTAX('Bad parameter syntax') };
  const params: RcptParameters = {};
  const seen = new Set<string>();
  for (const { name, value } of words) {
    if (seen.has(name)) return { ok: false, reply: SYNTAX(`Duplicate parameter ${name}`) };
    seen.add(name);
    if (name === 'NOTIFY') {
      const list = (value ?? '').toUpperCase().split(',');
      const valid = list.every((v) => v === 'SUCCESS' || v === 'FAILURE' || v === 'DELAY' || v === 'NEVER');
      // RFC 3461 4.1: NEVER must appear alone.
      if (!valid || (list.includes('NEVER') && list.length > 1) || new Set(list).size !== list.length) {
        return { ok: false, reply: SYNTAX('Bad NOTIFY value') };
      }
      params.notify = list as RcptParameters['notify'];
    } else if (name === 'ORCPT') {
      const semi = value === undefined ? -1 : value.indexOf(';');
      const type = semi <= 0 ? '' : value!.slice(0, semi).toLowerCase();
      // RFC 3461 4.2: addr-type is an atom (the IANA address types: rfc822, utf-8, x400, ...).
      const address = /^[a-z0-9][a-z0-9-]*$/.test(type) ? orcptAddress(type, value!.slice(semi + 1)) : null;
      if (address === null || address === '' || value!.length > 500) {
        return { ok: false, reply: SYNTAX('Bad ORCPT value') };
      }
      params.orcpt = { type, address };
    } else {
      return { ok: false, reply: UNKNOWN(name) };
    }
  }
  return { ok: true, params };
}
