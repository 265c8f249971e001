// RFC 7208 4.5 (record selection) and 4.6 / 12 (record syntax). A record is parsed whole before
// any term is evaluated: a syntax error anywhere is a permerror (RFC 7208 4.6).
import { type IpAddress, tryParseIp } from '../ip-address';
import { MacroSyntaxError, type MacroToken, parseMacroString } from './macro';

/** The result a mechanism gives when it matches (RFC 7208 4.6.2). */
export type Qualifier = 'pass' | 'fail' | 'softfail' | 'neutral';

/** A parsed mechanism. `domain` is the domain-spec (absent: the current domain). */
export type Mechanism =
  | { kind: 'all'; qualifier: Qualifier; text: string }
  | { kind: 'include' | 'exists'; qualifier: Qualifier; text: string; domain: MacroToken[] }
  | { kind: 'a' | 'mx'; qualifier: Qualifier; text: string; domain?: MacroToken[]; cidr4: number; cidr6: number }
  | { kind: 'ptr'; qualifier: Qualifier; text: string; domain?: MacroToken[] }
  | { kind: 'ip4' | 'ip6'; qualifier: Qualifier; text: string; network: IpAddress; prefixLength: number };

/** A parsed record: mechanisms in order, and the two modifiers RFC 7208 defines. */
export interface SpfRecord {
  text: string;
  mechanisms: Mechanism[];
  redirect?: MacroToken[];
  exp?: MacroToken[];
}

/** A syntax error in a record; the evaluator turns it into permerror with this message. */
export class RecordSyntaxError extends Error {}

const qualifiers: Record<string, Qualifier> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' };

/** RFC 7208 4.5: true for a TXT record that is an SPF version 1 record. */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1( |$)/i.test(txt);
}

// RFC 7208 12: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
const toplabelEnd = /\.(?:[0-9a-z]*[a-z][0-9a-z]*|[0-9a-z]+-[0-9a-z-]*[0-9a-z])\.?$/i;

function parseDomainSpec(text: string, term: string): MacroToken[] {
  if (text === '') throw new RecordSyntaxError(`empty domain in "${term}"`);
  let tokens: MacroToken[];
  try {
    tokens = parseMacroString(text);
  } catch (error) {
    throw new RecordSyntaxError(`${(error as Error).message} in "${term}"`);
  }
  // domain-end = ( "." toplabel [ "." ] ) / macro-expand
  const last = tokens[tokens.length - 1];
  if (last?.kind !== 'macro' && !toplabelEnd.test(text)) {
    throw new RecordSyntaxError(`"${text}" in "${term}" is not a fully qualified domain name`);
  }
  return tokens;
}

function parseCidr(text: string, max: number, term: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || Number(text) > max) {
    throw new RecordSyntaxError(`bad CIDR length "/${text}" in "${term}"`);
  }
  return Number(text);
}

function parseMechanism(term: string): Mechanism {
  let rest = term;
  let qualifier: Qualifier = 'pass';
  const qualifierChar = rest[0] ?? '';
  if (qualifierChar in qualifiers) {
    qualifier = qualifiers[qualifierChar]!;
    rest = rest.slice(1);
  }
  const nameMatch = /^[a-z0-9]+/i.exec(rest);
  const name = nameMatch ? nameMatch[0].toLowerCase() : '';
  const argument = rest.slice(name.length);
  switch (name) {
    case 'all':
      if (argument !== '') break;
      return { kind: 'all', qualifier, text: term };
    case 'include':
    case 'exists':
      if (!argument.startsWith(':')) break;
      return { kind: name, qualifier, text: term, domain: parseDomainSpec(argument.slice(1), term) };
    case 'a':
    case 'mx': {
      // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
      const cidr = /(?:\/([0-9]+))?(?:\/\/([0-9]+))?$/.exec(argument) as RegExpExecArray;
      const before = argument.slice(0, argument.length - cidr[0].length);
      if (before !== '' && !before.startsWith(':')) break;
      return {
        kind: name,
        qualifier,
        text: term,
        domain: before === '' ? undefined : parseDomainSpec(before.slice(1), term),
        cidr4: cidr[1] === undefined ? 32 : parseCidr(cidr[1], 32, term),
        cidr6: cidr[2] === undefined ? 128 : parseCidr(cidr[2], 128, term),
      };
    }
    case 'ptr':
      if (argument !== '' && !argument.startsWith(':')) break;
      return {
        kind: 'ptr',
        qualifier,
        text: term,
        domain: argument === '' ? undefined : parseDomainSpec(argument.slice(1), term),
      };
    case 'ip4':
    case 'ip6': {
      if (!argument.startsWith(':')) break;
      const [address = '', length, ...extra] = argument.slice(1).split('/');
      const network = tryParseIp(address);
      const family = name === 'ip4' ? 4 : 6;
      // An IPv4-mapped address in ip6: is still an ip6 network; tryParseIp unwraps it, so check the text.
      const rightFamily = family === 4 ? network?.family === 4 && !address.includes(':') : address.includes(':');
      if (!network || !rightFamily || extra.length > 0) {
        throw new RecordSyntaxError(`bad ${name} network "${argument.slice(1)}" in "${term}"`);
      }
      const max = family === 4 ? 32 : 128;
      return {
        kind: name,
        qualifier,
        text: term,
        network: family === 6 && network.family === 4 ? ipv6Of(network) : network,
        prefixLength: length === undefined ? max : parseCidr(length, max, term),
      };
    }
  }
  throw new RecordSyntaxError(`unknown or malformed mechanism "${term}"`);
}

function ipv6Of(v4: IpAddress): IpAddress {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(v4.bytes, 12);
  return { family: 6, bytes, text: `::ffff:${v4.text}` };
}

/** Parses an SPF record (already selected by isSpfRecord). Throws RecordSyntaxError. */
export function parseSpfRecord(text: string): SpfRecord {
  // RFC 7208 3.1 / 4.6: the record is 7-bit ASCII, terms are separated by SP only.
  if (/[^\x20-\x7e]/.test(text)) throw new RecordSyntaxError('the record has characters other than printable ASCII');
  const record: SpfRecord = { text, mechanisms: [] };
  const terms = text
    .split(' ')
    .slice(1)
    .filter((term) => term !== '');
  for (const term of terms) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(term);
    if (!modifier) {
      record.mechanisms.push(parseMechanism(term));
      continue;
    }
    const name = modifier[1]!.toLowerCase();
    const value = modifier[2]!;
    if (name === 'redirect' || name === 'exp') {
      // RFC 7208 6: each of these modifiers MUST NOT appear more than once.
      if (record[name] !== undefined) throw new RecordSyntaxError(`"${name}=" appears more than once`);
      record[name] = parseDomainSpec(value, term);
      continue;
    }
    // RFC 7208 6: unknown modifiers are ignored, but must still be syntactically valid.
    try {
      parseMacroString(value);
    } catch (error) {
      if (error instanceof MacroSyntaxError) throw new RecordSyntaxError(`${error.message} in "${term}"`);
      throw error;
    }
  }
  return record;
}
