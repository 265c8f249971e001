// The text shape of one event line, sans-IO: `[time ]{id} {subsystem} {event} key=value ...`.
// A client can put any byte in a command, and commands are logged: a value must never end the
// line, start a forged second one, or make a later `key=` look like a field of its own. So a value
// is written bare only when it is plain printable ASCII without space, quote, `=` or backslash, and
// quoted otherwise, with every control, format and line-separator character escaped.

import type { LogFields } from './observability-types';

/** One event line taken apart; values are unescaped strings. */
export interface ParsedEventLine {
  /** The ISO 8601 time at the start of the line, when the log writes one. */
  time?: string;
  id: string;
  subsystem: string;
  event: string;
  fields: Record<string, string>;
}

/** What `parseEventLine` decides: the parts, or why the line is not in the documented shape. */
export type EventLineCheck = { ok: true; line: ParsedEventLine } | { ok: false; reason: string };

/** The field every line about a client carries, written first so that no client text comes before it. */
export const ADDRESS_FIELD = 'address';

/** Field names the line itself uses; a field with one of these names is written as `{name}_`. */
export const RESERVED_FIELDS: ReadonlySet<string> = new Set(['level', 'time', 'id', 'subsystem', 'event', 'msg']);

const ID = /^[0-9a-f]{16}$/;
const TOKEN = /^[a-z0-9][a-z0-9._-]*$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const BARE_VALUE = /^[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+$/;
// C0 controls, DEL, C1 controls, format characters (bidi overrides, zero-width), line and paragraph
// separators, lone surrogates: anything that could move, hide or split text on a terminal or in a parser.
const ESCAPED = /[\\"\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** True for a 16-hex session id. */
export function isEventId(id: string): boolean {
  return ID.test(id);
}

/** A subsystem or event name as the line writes it: lower-case, `[a-z0-9._-]`, never empty. */
export function eventToken(name: string): string {
  if (TOKEN.test(name)) return name;
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return cleaned === '' ? 'unknown' : cleaned;
}

/** A field name as the line writes it: `[A-Za-z0-9_.-]`, reserved names suffixed with `_`. */
export function fieldKey(name: string): string {
  let key = KEY.test(name) ? name : name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[^A-Za-z_]/, '_$&');
  if (key === '') key = '_';
  return RESERVED_FIELDS.has(key) ? `${key}_` : key;
}

function escapeCharacter(character: string): string {
  switch (character) {
    case '\\':
      return '\\\\';
    case '"':
      return '\\"';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default: {
      const code = character.codePointAt(0)!;
      return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
    }
  }
}

/** One value as the line writes it: bare when safe, else double-quoted with escapes. */
export function formatValue(value: string | number | boolean): string {
  const text = String(value);
  if (BARE_VALUE.test(text)) return text;
  return `"${text.replace(ESCAPED, escapeCharacter)}"`;
}

/** The fields in line order: `address` first, then as given; undefined values left out. */
export function orderedFields(fields: LogFields | undefined): [string, string | number | boolean][] {
  const out: [string, string | number | boolean][] = [];
  if (fields === undefined) return out;
  const address = fields[ADDRESS_FIELD];
  if (address !== undefined) out.push([ADDRESS_FIELD, address]);
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    if (value === undefined || name === ADDRESS_FIELD) continue;
    out.push([fieldKey(name), value]);
  }
  return out;
}

/** One event as one line, without the newline. `time` (ms since the epoch) adds an ISO 8601 prefix. */
export function formatEventLine(
  id: string,
  subsystem: string,
  event: string,
  fields: LogFields | undefined,
  time?: number,
): string {
  let line = time === undefined ? '' : `${new Date(time).toISOString()} `;
  line += `${id} ${eventToken(subsystem)} ${eventToken(event)}`;
  for (const [key, value] of orderedFields(fields)) line += ` ${key}=${formatValue(value)}`;
  return line;
}

function unescapeValue(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else if (next === 't') out += '\t';
    else if (next === '\\' || next === '"') out += next;
    else if (next === 'x') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 2;
    } else if (next === 'u') {
      const match = /^\{([0-9a-f]{1,6})\}/.exec(text.slice(i + 1));
      if (match === null) return undefined;
      out += String.fromCodePoint(Number.parseInt(match[1]!, 16));
      i += match[0].length;
    } else return undefined;
  }
  return out;
}

// One field: a key, `=`, then a bare value or a quoted one whose escapes are whole (`\` and one more).
const FIELD = /^ ([A-Za-z_][A-Za-z0-9_.-]*)=(?:"((?:[^"\\]|\\.)*)"|([\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+))/u;

/**
 * Checks that a text line is one event in the documented shape and takes it apart: optional ISO
 * time, 16-hex id, subsystem, event, then ` key=value` fields (each value bare or quoted, escapes
 * whole, no raw control or separator character anywhere), `address` first when present.
 */
export function parseEventLine(line: string): EventLineCheck {
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(line))
    return { ok: false, reason: 'a raw control or separator character' };
  const head = /^(?:(\S+) )?([0-9a-f]{16}) ([a-z0-9][a-z0-9._-]*) ([a-z0-9][a-z0-9._-]*)/.exec(line);
  if (head === null) return { ok: false, reason: 'does not start with "{16-hex id} {subsystem} {event}"' };
  const [matched, time, id, subsystem, event] = head;
  if (time !== undefined && !TIME.test(time)) return { ok: false, reason: `"${time}" is not an ISO 8601 UTC time` };
  const fields: Record<string, string> = {};
  let rest = line.slice(matched.length);
  let first = true;
  while (rest !== '') {
    const field = FIELD.exec(rest);
    if (field === null) return { ok: false, reason: `not a key=value field at "${rest.slice(0, 40)}"` };
    const [whole, key, quoted, bare] = field;
    const value = quoted === undefined ? bare! : unescapeValue(quoted);
    if (value === undefined) return { ok: false, reason: `a broken escape in the value of ${key}` };
    if (key! in fields) return { ok: false, reason: `field ${key} twice` };
    if (key === ADDRESS_FIELD && !first) return { ok: false, reason: 'address is not the first field' };
    fields[key!] = value;
    rest = rest.slice(whole.length);
    first = false;
  }
  const parsed: ParsedEventLine = { id: id!, subsystem: subsystem!, event: event!, fields };
  if (time !== undefined) parsed.time = time;
  return { ok: true, line: parsed };
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

/**
 * Checks that a JSON line (`--log-format json`) is one event in the documented shape: one object
 * `{level, time, id, subsystem, event, ...fields}` with a level label, a time in ms since the epoch,
 * a 16-hex id, and string, number or boolean field values. Values come back as strings.
 */
export function parseJsonEventLine(line: string): EventLineCheck {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'not an object' };
  const { level, time, id, subsystem, event, ...rest } = value as Record<string, unknown>;
  if (typeof level !== 'string' || !LEVELS.has(level))
    return { ok: false, reason: 'level is not debug|info|warn|error' };
  if (typeof time !== 'number' || !Number.isFinite(time)) return { ok: false, reason: 'time is not a number' };
  if (typeof id !== 'string' || !ID.test(id)) return { ok: false, reason: 'id is not 16 hex digits' };
  if (typeof subsystem !== 'string' || !TOKEN.test(subsystem)) return { ok: false, reason: 'bad subsystem' };
  if (typeof event !== 'string' || !TOKEN.test(event)) return { ok: false, reason: 'bad event' };
  const fields: Record<string, string> = {};
  for (const [key, field] of Object.entries(rest)) {
    if (!KEY.test(key)) return { ok: false, reason: `bad field name ${JSON.stringify(key)}` };
    if (typeof field !== 'string' && typeof field !== 'number' && typeof field !== 'boolean') {
      return { ok: false, reason: `field ${key} is not a string, number or boolean` };
    }
    fields[key] = String(field);
  }
  return { ok: true, line: { time: new Date(time).toISOString(), id, subsystem, event, fields } };
}

/** Checks one line of the server's output in either log format (see `parseEventLine`, `parseJsonEventLine`). */
export function checkEventLine(line: string, format: 'text' | 'json' = 'text'): EventLineCheck {
  return format === 'json' ? parseJsonEventLine(line) : parseEventLine(line);
}
