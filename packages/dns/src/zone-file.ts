import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { DnsError } from './dns-error';
import { tokenizeZone, type ZoneLine, ZoneSyntaxError, type ZoneToken } from './internal/zone-tokens';
import type { SoaData, ZoneEntry, Zones } from './zones';

/** A zone file that cannot be read: says where (`file`, `line`, `column`, 1-based) and what is wrong. */
export class ZoneFileError extends DnsError {
  readonly file: string;
  readonly line: number;
  readonly column: number;

  constructor(file: string, line: number, column: number, what: string) {
    super('BADZONE', `${file}:${line}:${column}: ${what}`);
    this.name = 'ZoneFileError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** Options of `parseZoneFile`. */
export interface ZoneFileOptions {
  /** Name used in error messages; default `zone`. */
  file?: string;
  /** Origin before any `$ORIGIN`; without it, relative names before `$ORIGIN` are an error. */
  origin?: string;
  /** TTL of records that state none before any `$TTL` or explicit TTL; default 300. */
  defaultTtl?: number;
}

const DEFAULT_TTL = 300;
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const TYPES = new Set(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS', 'SRV', 'CAA', 'TLSA', 'SOA']);

/**
 * Parses RFC 1035 5 master-file text ($ORIGIN, $TTL, comments, parentheses, relative and absolute names, `@`,
 * wildcard owners `*.name`; A, AAAA, MX, TXT, PTR, CNAME, NS, SRV, CAA, TLSA, SOA) into zones for `startDnsServer`.
 * Records of one owner share one TTL in `Zones`: the smallest of theirs.
 */
export function parseZoneFile(text: string, options: ZoneFileOptions = {}): Zones {
  const file = options.file ?? 'zone';
  let lines: ZoneLine[];
  try {
    lines = tokenizeZone(text);
  } catch (error) {
    if (error instanceof ZoneSyntaxError) throw new ZoneFileError(file, error.line, error.column, error.message);
    throw error;
  }
  const zones: Zones = {};
  let origin = options.origin === undefined ? undefined : stripDot(options.origin);
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let lastOwner: string | undefined;
  const fail = (token: { line: number; column: number }, what: string): never => {
    throw new ZoneFileError(file, token.line, token.column, what);
  };

  const toName = (token: ZoneToken): string => {
    if (token.text === '@') {
      return origin ?? fail(token, '"@" needs an origin: add a $ORIGIN line before it');
    }
    const labels = splitLabels(token, fail);
    if (token.text.endsWith('.') && !token.text.endsWith('\\.')) return labels.join('.');
    if (origin === undefined) return fail(token, `"${token.text}" is relative and no $ORIGIN is set before it`);
    return origin === '' ? labels.join('.') : `${labels.join('.')}.${origin}`;
  };
  const toTtl = (token: ZoneToken): number => {
    const ttl = parseTtl(token.text);
    return ttl ?? fail(token, `"${token.text}" is not a TTL (seconds, or a number with s, m, h, d or w)`);
  };

  for (const line of lines) {
    const tokens = [...line.tokens];
    const first = tokens[0] as ZoneToken;
    if (!line.inheritsOwner && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      const argument = tokens[1] ?? fail(first, `${directive} needs a value`);
      if (directive === '$ORIGIN') {
        origin = toName(argument); // RFC 1035 5.1: a relative $ORIGIN is read against the current origin
      } else if (directive === '$TTL') defaultTtl = toTtl(argument);
      else fail(first, `${first.text} is not supported (only $ORIGIN and $TTL)`);
      continue;
    }
    let owner: string;
    if (line.inheritsOwner) {
      owner = lastOwner ?? fail(first, 'this record starts with a blank but no record before it names an owner');
    } else {
      owner = toName(tokens.shift() as ZoneToken);
    }
    lastOwner = owner;
    let ttl: number | undefined;
    for (let i = 0; i < 2 && tokens.length > 0; i++) {
      const token = tokens[0] as ZoneToken;
      const upper = token.text.toUpperCase();
      if (parseTtl(token.text) !== undefined && ttl === undefined) {
        ttl = toTtl(token);
        tokens.shift();
      } else if (upper === 'IN') tokens.shift();
      else if (upper === 'CH' || upper === 'HS' || upper === 'CS')
        fail(token, `class ${token.text} is not served; only IN`);
    }
    const typeToken = tokens.shift() ?? fail(first, 'the record has no type');
    const type = typeToken.text.toUpperCase();
    if (!TYPES.has(type)) fail(typeToken, `record type ${typeToken.text} is not supported (${[...TYPES].join(', ')})`);
    // RFC 1035 5.1: without a TTL, the last one stated; RFC 2308 4: $TTL sets the default.
    const recordTtl = ttl ?? defaultTtl ?? lastTtl ?? options.defaultTtl ?? DEFAULT_TTL;
    if (ttl !== undefined) lastTtl = ttl;
    const entry = zones[owner] ?? {};
    zones[owner] = entry;
    entry.ttl = entry.ttl === undefined ? recordTtl : Math.min(entry.ttl, recordTtl);
    addRecord(entry, type, typeToken, tokens, { toName, fail, toTtl });
  }
  return zones;
}

/** Reads and parses several zone files and merges them (records of one owner in two files are joined). */
export async function readZoneFiles(paths: string[], options: Omit<ZoneFileOptions, 'file'> = {}): Promise<Zones> {
  const merged: Zones = {};
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new DnsError('BADZONE', `cannot read zone file ${path}: ${(error as NodeJS.ErrnoException).code}`, {
        cause: error,
      });
    }
    mergeZones(merged, parseZoneFile(text, { ...options, file: path }));
  }
  return merged;
}

function mergeZones(into: Zones, from: Zones): void {
  for (const [name, entry] of Object.entries(from)) {
    const target = into[name];
    if (target === undefined) {
      into[name] = entry;
      continue;
    }
    for (const key of LIST_KEYS) {
      const more = entry[key];
      if (more) (target[key] as unknown[]) = [...((target[key] as unknown[]) ?? []), ...more];
    }
    if (entry.SOA) target.SOA = entry.SOA;
    if (entry.ttl !== undefined) target.ttl = Math.min(target.ttl ?? entry.ttl, entry.ttl);
  }
}

interface Readers {
  toName: (token: ZoneToken) => string;
  toTtl: (token: ZoneToken) => number;
  fail: (token: { line: number; column: number }, what: string) => never;
}

function addRecord(entry: ZoneEntry, type: string, typeToken: ZoneToken, rdata: ZoneToken[], read: Readers): void {
  const { fail } = read;
  const need = (count: number): ZoneToken[] => {
    if (rdata.length < count) fail(rdata.at(-1) ?? typeToken, `${type} needs ${count} value(s), found ${rdata.length}`);
    if (rdata.length > count && type !== 'TLSA')
      fail(rdata[count] as ZoneToken, `unexpected "${rdata[count]?.text}" after the ${type} data`);
    return rdata;
  };
  const uint = (token: ZoneToken, max: number, what: string): number => {
    const value = /^\d+$/.test(token.text) ? Number(token.text) : Number.NaN;
    if (!(value <= max)) fail(token, `${what} must be a whole number from 0 to ${max}, not "${token.text}"`);
    return value;
  };
  switch (type) {
    case 'A':
    case 'AAAA': {
      const [address] = need(1) as [ZoneToken];
      if (isIP(address.text) !== (type === 'A' ? 4 : 6))
        fail(address, `"${address.text}" is not an IPv${type === 'A' ? 4 : 6} address`);
      append(entry, type, address.text);
      return;
    }
    case 'MX': {
      const [priority, exchange] = need(2) as [ZoneToken, ZoneToken];
      append(entry, 'MX', {
        priority: uint(priority, 65_535, 'the MX preference'),
        exchange: read.toName(exchange),
      });
      return;
    }
    case 'TXT': {
      if (rdata.length === 0) fail(typeToken, 'TXT needs at least one string');
      for (const token of rdata) {
        // RFC 1035 3.3: a character-string is at most 255 octets.
        if (token.octets.length > 255)
          fail(token, `a TXT string is ${token.octets.length} octets; split it into quoted strings of at most 255`);
      }
      append(
        entry,
        'TXT',
        rdata.map((token) => token.octets.toString('utf8')),
      );
      return;
    }
    case 'PTR':
    case 'CNAME':
      append(entry, type, read.toName((need(1) as [ZoneToken])[0]));
      return;
    case 'NS':
      append(entry, 'NS', read.toName((need(1) as [ZoneToken])[0]));
      return;
    case 'SRV': {
      // RFC 2782: priority, weight, port, target.
      const [priority, weight, port, target] = need(4) as [ZoneToken, ZoneToken, ZoneToken, ZoneToken];
      append(entry, 'SRV', {
        priority: uint(priority, 65_535, 'the SRV priority'),
        weight: uint(weight, 65_535, 'the SRV weight'),
        port: uint(port, 65_535, 'the SRV port'),
        target: read.toName(target),
      });
      return;
    }
    case 'CAA': {
      // RFC 8659 4.1.1: flags, a tag of letters and digits, and the value as a character-string.
      const [flags, tag, value] = need(3) as [ZoneToken, ZoneToken, ZoneToken];
      if (!/^[A-Za-z0-9]+$/.test(tag.text)) fail(tag, `the CAA tag "${tag.text}" must be letters and digits`);
      append(entry, 'CAA', {
        flags: uint(flags, 255, 'the CAA flags'),
        tag: tag.text,
        value: value.octets.toString('utf8'),
      });
      return;
    }
    case 'TLSA': {
      if (rdata.length < 4)
        fail(
          rdata.at(-1) ?? typeToken,
          `TLSA needs usage, selector, matching type and data, found ${rdata.length} value(s)`,
        );
      const [usage, selector, matchingType, ...hex] = rdata as [ZoneToken, ZoneToken, ZoneToken, ...ZoneToken[]];
      const data = hex.map((token) => token.text).join('');
      if (!/^([0-9a-fA-F]{2})+$/.test(data))
        fail(hex[0] as ZoneToken, 'TLSA data must be hexadecimal, an even number of digits');
      append(entry, 'TLSA', {
        usage: uint(usage, 255, 'the TLSA usage'),
        selector: uint(selector, 255, 'the TLSA selector'),
        matchingType: uint(matchingType, 255, 'the TLSA matching type'),
        data: data.toLowerCase(),
      });
      return;
    }
    case 'SOA': {
      const [mname, rname, serial, refresh, retry, expire, minimum] = need(7) as ZoneToken[] as [
        ZoneToken,
        ZoneToken,
        ZoneToken,
        ZoneToken,
        ZoneToken,
        ZoneToken,
        ZoneToken,
      ];
      const soa: SoaData = {
        mname: read.toName(mname),
        rname: read.toName(rname),
        serial: uint(serial, 0xffff_ffff, 'the SOA serial'),
        refresh: read.toTtl(refresh),
        retry: read.toTtl(retry),
        expire: read.toTtl(expire),
        minimum: read.toTtl(minimum),
      };
      entry.SOA = soa;
      return;
    }
  }
}

type ListKey = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'NS' | 'SRV' | 'CAA' | 'TLSA';
const LIST_KEYS: readonly ListKey[] = ['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS', 'SRV', 'CAA', 'TLSA'];

function append<K extends ListKey>(entry: ZoneEntry, key: K, value: NonNullable<ZoneEntry[K]>[number]): void {
  const list = (entry[key] ?? []) as unknown[];
  list.push(value);
  (entry as Record<string, unknown>)[key] = list;
}

/** `3600`, or BIND's `1h30m` style; undefined when it is not a TTL. RFC 2181 8: at most 2^31 - 1. */
function parseTtl(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    return value <= 0x7fff_ffff ? value : undefined;
  }
  if (!/^(\d+[smhdw])+$/i.test(text)) return undefined;
  let total = 0;
  for (const [, digits, unit] of text.toLowerCase().matchAll(/(\d+)([smhdw])/g)) {
    total += Number(digits) * (TTL_UNITS[unit as string] as number);
  }
  return total <= 0x7fff_ffff ? total : undefined;
}

/** Splits a name token into labels at unescaped dots, resolving `\X` and `\DDD` (RFC 1035 5.1). */
function splitLabels(token: ZoneToken, fail: Readers['fail']): string[] {
  const labels: string[] = [];
  let label: number[] = [];
  const text = token.text;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '\\') {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      const code = digits ? Number(digits[0]) : (text.codePointAt(i + 1) as number);
      const escapedChar = digits ? '' : String.fromCodePoint(code);
      if (code === 0x2e) fail(token, `"${text}": a dot inside a label is not supported`);
      label.push(...(digits ? [code] : Buffer.from(escapedChar)));
      i += digits ? 3 : escapedChar.length;
      continue;
    }
    if (char === '.') {
      if (label.length === 0 && !(i === text.length - 1 && labels.length > 0)) {
        if (text === '.') return [];
        fail(token, `"${text}" has an empty label`);
      }
      if (label.length > 0) labels.push(Buffer.from(label).toString('utf8'));
      label = [];
      continue;
    }
    label.push(...Buffer.from(String.fromCodePoint(text.codePointAt(i) as number)));
    if ((text.codePointAt(i) as number) > 0xffff) i++;
  }
  if (label.length > 0) labels.push(Buffer.from(label).toString('utf8'));
  for (const part of labels) {
    if (Buffer.byteLength(part) > 63) fail(token, `"${text}" has a label over 63 octets (RFC 1035 2.3.4)`);
  }
  return labels;
}

function stripDot(name: string): string {
  return name === '.' ? '' : name.replace(/\.$/, '');
}
