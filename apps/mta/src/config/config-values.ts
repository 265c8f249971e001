// The leaf values of the config: sizes, durations, listening addresses, domains and addresses.
// Each parser takes what YAML gave and returns the value or a message that says what to write
// instead; no I/O, so they are tested on their own and reused by `homing user`.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import type { ListenAddress, SendRate } from './config-types';

/** A parsed value, or what is wrong with the input. */
export type Parsed<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      message: string;
      /** Where inside the value (a list item's index). */
      path?: number[];
      /** More failures in the same value (other list items). */
      others?: { message: string; path: number[] }[];
    };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

/** Quotes a value for a message the way the user wrote it. */
export function show(input: unknown): string {
  return typeof input === 'string' ? JSON.stringify(input) : String(JSON.stringify(input) ?? input);
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `25M`, `64K`, `1G` (1024-based) or a plain number of bytes. */
export function parseSize(input: unknown, example: string): Parsed<number> {
  if (typeof input === 'number' && Number.isSafeInteger(input) && input >= 0) return ok(input);
  const match = typeof input === 'string' ? /^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$/i.exec(input) : null;
  if (match === null) return fail(`${show(input)} is not a size; write a number with K, M or G, e.g. ${example}`);
  const value = Number(match[1]) * sizeUnits[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(value)) return fail(`${show(input)} is too large; e.g. ${example}`);
  return ok(value);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `300ms`, `5s`, `5m`, `1h`, in milliseconds; a unit is required so `5` is never a guess. */
export function parseDuration(input: unknown, example: string): Parsed<number> {
  const match = typeof input === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(input) : null;
  if (match === null) {
    return fail(`${show(input)} is not a duration; write a number with ms, s, m or h, e.g. ${example}`);
  }
  const value = Math.round(Number(match[1]) * durationUnits[match[2]!.toLowerCase()]!);
  if (value <= 0) return fail(`${show(input)} must be more than zero, e.g. ${example}`);
  return ok(value);
}

const rateUnits: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A rate `100/h` (also `/s`, `/m`, `/d`, or a window like `500/10m`): at most `count` per `windowMs`. */
export function parseRate(input: unknown, example: string): Parsed<SendRate> {
  const match = typeof input === 'string' ? /^\s*(\d{1,7})\s*\/\s*(\d{1,6})?\s*(s|m|h|d)\s*$/i.exec(input) : null;
  if (match === null || Number(match[1]) === 0 || Number(match[2] ?? 1) === 0) {
    return fail(`${show(input)} is not a rate; write messages per s, m, h or d, e.g. ${example}`);
  }
  const windowMs = Number(match[2] ?? 1) * rateUnits[match[3]!.toLowerCase()]!;
  return ok({ count: Number(match[1]), windowMs, text: (input as string).trim() });
}

/** A number of days, `30d` or `30`, in milliseconds (certificate lifetimes and policy ages are in days). */
export function parseDays(input: unknown, example: string): Parsed<number> {
  const match = /^\s*(\d{1,5})\s*d?\s*$/i.exec(
    String(typeof input === 'number' || typeof input === 'string' ? input : ''),
  );
  if (match === null || Number(match[1]) === 0) {
    return fail(`${show(input)} is not a number of days; write e.g. ${example}`);
  }
  return ok(Number(match[1]) * 86_400_000);
}

/** A whole number in [min, max]. */
export function parseInteger(input: unknown, min: number, max: number, example: string): Parsed<number> {
  if (typeof input === 'number' && Number.isInteger(input) && input >= min && input <= max) return ok(input);
  return fail(`${show(input)} is not a whole number from ${min} to ${max}; e.g. ${example}`);
}

/**
 * A host name in A-label form: lower-case, trailing dot removed, IDN converted (RFC 5890), each
 * label 1-63 letters, digits or hyphens not at either end (RFC 1123 2.1), at most 253 octets.
 */
export function parseDomain(input: unknown, example: string): Parsed<string> {
  if (typeof input !== 'string' || input.trim() === '') return fail(`${show(input)} is not a domain; e.g. ${example}`);
  const trimmed = input.trim().replace(/\.$/, '');
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (ascii === '') return fail(`${show(input)} is not a valid domain name; e.g. ${example}`);
  if (isIP(ascii) !== 0) return fail(`${show(input)} is an IP address, not a domain name; e.g. ${example}`);
  const labels = ascii.split('.');
  if (labels.length < 2) {
    return fail(`${show(input)} is not a fully qualified domain name (it needs a dot); e.g. ${example}`);
  }
  const good = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  const bad = labels.find((label) => !good.test(label));
  if (bad !== undefined || ascii.length > 253) {
    return fail(
      `${show(input)} is not a valid domain name (labels are letters, digits and inner hyphens); e.g. ${example}`,
    );
  }
  return ok(ascii);
}

// RFC 5321 4.1.2 Dot-string: atoms of atext separated by single dots. Quoted local parts are not
// allowed for our own users: they are legal but nobody needs one, and they invite relay tricks.
const dotString = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;

/** A mail address `local@domain`, lower-cased, the domain in A-label form. */
export function parseAddress(input: unknown, example = 'alice@example.org'): Parsed<string> {
  if (typeof input !== 'string') return fail(`${show(input)} is not a mail address; e.g. ${example}`);
  const text = input.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0) return fail(`${show(input)} is not a mail address (local@domain); e.g. ${example}`);
  const local = text.slice(0, at);
  // RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
  if (!dotString.test(local) || local.length > 64) {
    return fail(`${show(input)} has an invalid local part "${local}"; e.g. ${example}`);
  }
  const domain = parseDomain(text.slice(at + 1), example.slice(example.indexOf('@') + 1));
  if (!domain.ok) return fail(`${show(input)}: the domain ${domain.message.replace(/^"[^"]*" /, '')}`);
  return ok(`${local.toLowerCase()}@${domain.value}`);
}

/** `HOST:PORT`, with an IPv6 host in brackets (`[::]:25`); port 0 means any free port (for tests). */
export function parseListenAddress(input: unknown, example: string): Parsed<ListenAddress> {
  if (typeof input !== 'string') {
    return fail(`${show(input)} is not HOST:PORT; write e.g. "${example}" (quote an IPv6 address in brackets)`);
  }
  const text = input.trim();
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) {
    const hint = isIP(text) === 6 ? `; put an IPv6 address in brackets: "[${text}]:PORT"` : '';
    return fail(`${show(input)} is not HOST:PORT; write e.g. "${example}"${hint}`);
  }
  const port = Number(match[3]);
  if (port > 65535) return fail(`${show(input)}: port ${port} is over 65535; e.g. "${example}"`);
  if (match[1] !== undefined) {
    if (isIP(match[1]) !== 6) return fail(`${show(input)}: "${match[1]}" in brackets is not an IPv6 address`);
    return ok({ host: match[1], port });
  }
  const host = match[2]!;
  if (isIP(host) === 0 && !/^[a-z0-9.-]+$/i.test(host)) {
    return fail(`${show(input)}: "${host}" is not an IP address or host name; e.g. "${example}"`);
  }
  return ok({ host: host.toLowerCase(), port });
}

/** A resolver `HOST:PORT` (an IP address; a bare address means port 53). Kept as text, normalised. */
export function parseResolver(input: unknown): Parsed<string> {
  const example = '127.0.0.1:53';
  if (typeof input !== 'string') return fail(`${show(input)} is not a resolver address; e.g. "${example}"`);
  const text = input.trim();
  if (isIP(text) === 4) return ok(`${text}:53`);
  if (!text.includes(':')) {
    return fail(`${show(input)}: a resolver is given by IP address, not by name; e.g. "${example}"`);
  }
  if (isIP(text) === 6) return ok(`[${text}]:53`);
  const parsed = parseListenAddress(text, example);
  if (!parsed.ok) return parsed;
  if (isIP(parsed.value.host) === 0) {
    return fail(`${show(input)}: a resolver is given by IP address, not by name; e.g. "${example}"`);
  }
  if (parsed.value.port === 0) return fail(`${show(input)}: port 0 is not a resolver port; e.g. "${example}"`);
  return ok(isIP(parsed.value.host) === 6 ? `[${parsed.value.host}]:${parsed.value.port}` : text);
}

/** Renders a listening address back as the YAML text that gives it. */
export function formatListenAddress(address: ListenAddress): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Renders bytes with the largest exact 1024-based suffix, as `config show` prints them. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes > 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** Renders milliseconds with the largest exact unit. */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** A DKIM selector (RFC 6376 3.1: dot-separated labels of letters, digits and inner hyphens). */
export function parseSelector(input: unknown, example = 'homing'): Parsed<string> {
  const text = typeof input === 'string' ? input.trim().toLowerCase() : undefined;
  if (text !== undefined && /^(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/.test(text)) return ok(text);
  return fail(`${show(input)} is not a DKIM selector (letters, digits, inner hyphens); e.g. ${example}`);
}

/** A source address of one family for outbound connections (`ipv6: false` is handled by the caller). */
export function parseSourceAddress(input: unknown, family: 4 | 6): Parsed<string> {
  const example = family === 4 ? '192.0.2.25' : '2001:db8::25';
  if (typeof input === 'string' && isIP(input.trim()) === family) return ok(input.trim().toLowerCase());
  return fail(`${show(input)} is not an IPv${family} address; e.g. ${example}`);
}

/** A host name or IP address to connect to (the smarthost). */
export function parseHost(input: unknown, example: string): Parsed<string> {
  if (typeof input === 'string' && isIP(input.trim()) !== 0) return ok(input.trim().toLowerCase());
  if (typeof input === 'string' && /^[a-z0-9.-]+$/i.test(input.trim()) && !input.trim().startsWith('.')) {
    return ok(input.trim().toLowerCase().replace(/\.$/, ''));
  }
  return fail(`${show(input)} is not a host name or IP address; e.g. ${example}`);
}
