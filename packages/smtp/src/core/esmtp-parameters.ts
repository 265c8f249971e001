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
  /** ORCPT= (RFC 3461 4.2): address type and the xtext-decoded original recipient. */
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
      const address = semi === -1 ? null : decodeXtext(value!.slice(semi + 1));
      if (semi <= 0 || address === null || address === '' || value!.length > 500) {
        return { ok: false, reply: SYNTAX('Bad ORCPT value') };
      }
      params.orcpt = { type: value!.slice(0, semi).toLowerCase(), address };
    } else {
      return { ok: false, reply: UNKNOWN(name) };
    }
  }
  return { ok: true, params };
}
