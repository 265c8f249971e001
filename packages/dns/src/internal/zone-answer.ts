import * as packet from 'dns-packet';
import type { ZoneEntry, Zones } from '../zones';
import { canonicalName } from './name';
import { encodeName } from './wire-name';

// Sans-IO core of the loopback test server: query bytes in, response bytes (or nothing) out.

const AUTHORITATIVE_ANSWER = 1 << 10;
const TRUNCATED_RESPONSE = 1 << 9;
const RECURSION_DESIRED = 1 << 8;
const AUTHENTIC_DATA = 1 << 5;
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODES;
const DEFAULT_TTL = 300;
const MAX_CNAME_HOPS = 8;
// RFC 1035 4.2.1: UDP messages are limited to 512 octets unless EDNS0 says more (RFC 6891 6.2.5).
const CLASSIC_UDP_LIMIT = 512;
const MAX_UDP_LIMIT = 4096;

/** A query seen by the server, as logged in `server.queries`. */
export interface QueryLogEntry {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

/** Zones indexed by canonical (lower-case) name. */
export type ZoneIndex = ReadonlyMap<string, ZoneEntry>;

/** Indexes plain-object zones by canonical name. */
export function indexZones(zones: Zones): ZoneIndex {
  const index = new Map<string, ZoneEntry>();
  for (const [name, entry] of Object.entries(zones)) index.set(canonicalName(name), entry);
  return index;
}

/** Builds the response to one query, or `undefined` when the server must stay silent. */
export function answerQuery(
  zones: ZoneIndex,
  query: Buffer,
  transport: 'udp' | 'tcp',
  log?: (entry: QueryLogEntry) => void,
): Buffer | undefined {
  let decoded: packet.Packet;
  try {
    decoded = packet.decode(query);
  } catch {
    if (query.length < 12) return undefined;
    return formErr(query.readUInt16BE(0));
  }
  // Never answer a response: two servers would bounce messages between them forever.
  if (decoded.type !== 'query') return undefined;
  const question = decoded.questions?.[0];
  if (decoded.questions?.length !== 1 || question === undefined) {
    return formErr(decoded.id ?? 0);
  }
  log?.({ name: question.name, type: question.type, transport });
  const opt = decoded.additionals?.find((record) => record.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const response = buildResponse(zones, question, transport);
  if (response === undefined) return undefined;
  const flags =
    AUTHORITATIVE_ANSWER |
    ((decoded.flags ?? 0) & RECURSION_DESIRED) |
    (response.authenticated ? AUTHENTIC_DATA : 0) |
    RCODES[response.rcode];
  const message: packet.Packet = {
    type: 'response',
    id: decoded.id ?? 0,
    flags,
    questions: [question],
    answers: response.answers,
    authorities: response.authorities,
    additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_LIMIT } as packet.Answer] : [],
  };
  const limit = opt ? Math.min(Math.max(opt.udpPayloadSize ?? 0, CLASSIC_UDP_LIMIT), MAX_UDP_LIMIT) : CLASSIC_UDP_LIMIT;
  const encoded = encodeResponse(message, question.name);
  if (transport === 'udp' && (response.truncate || encoded.length > limit)) {
    // RFC 2181 9: a truncated answer is one the client must not use; it retries over TCP.
    return encodeResponse(
      { ...message, flags: flags | TRUNCATED_RESPONSE, answers: [], authorities: [] },
      question.name,
    );
  }
  return encoded;
}

const LINE_TERMINATOR = /[\n\r\u2028\u2029]/g;

/**
 * dns-packet's name encoder drops a dot beside a line terminator (its /^\.|\.$/gm), so a question name holding one
 * is encoded as a stand-in of the same length and the real octets are written over it afterwards.
 */
function encodeResponse(message: packet.Packet, asked: string): Buffer {
  if (!/[\n\r\u2028\u2029]/.test(asked)) return packet.encode(message);
  const standIn = asked.replace(LINE_TERMINATOR, (char) => 'x'.repeat(Buffer.byteLength(char)));
  const rename = (name: string) => (name === asked ? standIn : name);
  const encoded = packet.encode({
    ...message,
    questions: message.questions?.map((question) => ({ ...question, name: rename(question.name) })),
    answers: message.answers?.map((record) => ({ ...record, name: rename(record.name) }) as packet.Answer),
  });
  const from = encodeName(standIn);
  const to = encodeName(asked);
  for (let at = encoded.indexOf(from); at !== -1; at = encoded.indexOf(from, at + to.length)) to.copy(encoded, at);
  return encoded;
}

interface BuiltResponse {
  rcode: Rcode;
  answers: packet.Answer[];
  authorities: packet.Answer[];
  authenticated: boolean;
  truncate: boolean;
}

function buildResponse(zones: ZoneIndex, question: packet.Question, transport: string): BuiltResponse | undefined {
  const asked = canonicalName(question.name);
  const entry = zones.get(asked);
  const result: BuiltResponse = {
    rcode: 'NOERROR',
    answers: [],
    authorities: [],
    authenticated: entry?.authenticated === true,
    truncate: transport === 'udp' && entry?.truncate === true,
  };
  if (entry?.timeout) return undefined;
  if (entry?.servfail) return { ...result, rcode: 'SERVFAIL' };
  if (entry?.refused) return { ...result, rcode: 'REFUSED' };
  if (entry?.formerr) return { ...result, rcode: 'FORMERR' };
  if (apexOf(zones, asked) === undefined) return { ...result, rcode: 'REFUSED' }; // not our zone
  let owner = question.name;
  let current = asked;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const here = zones.get(current);
    if (here === undefined) {
      result.rcode = hasDescendant(zones, current) ? 'NOERROR' : 'NXDOMAIN'; // RFC 8020: empty non-terminals exist
      break;
    }
    const records = recordsOf(here, question.type, owner);
    if (records.length > 0) {
      result.answers.push(...records);
      break;
    }
    const target = here.CNAME?.[0];
    if (target === undefined || question.type === 'CNAME') break;
    result.answers.push(...recordsOf(here, 'CNAME', owner));
    owner = target;
    current = canonicalName(target);
    if (apexOf(zones, current) === undefined) break; // out of our zones: the client must follow it itself
  }
  if (result.answers.every((record) => record.type === 'CNAME' && question.type !== 'CNAME')) {
    const soa = soaFor(zones, current);
    if (soa) result.authorities.push(soa);
  }
  return result;
}

function recordsOf(entry: ZoneEntry, type: string, owner: string): packet.Answer[] {
  const ttl = entry.ttl ?? DEFAULT_TTL;
  const base = { name: owner, ttl, class: 'IN' as const };
  switch (type) {
    case 'A':
      return (entry.A ?? []).map((data) => ({ ...base, type: 'A', data }));
    case 'AAAA':
      return (entry.AAAA ?? []).map((data) => ({ ...base, type: 'AAAA', data }));
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({
        ...base,
        type: 'MX',
        data: { preference: mx.priority, exchange: mx.exchange },
      }));
    case 'TXT':
      return (entry.TXT ?? []).map((txt) => ({ ...base, type: 'TXT', data: characterStrings(txt) }));
    case 'PTR':
      return (entry.PTR ?? []).map((data) => ({ ...base, type: 'PTR', data }));
    case 'CNAME':
      return (entry.CNAME ?? []).slice(0, 1).map((data) => ({ ...base, type: 'CNAME', data }));
    case 'TLSA':
      return (entry.TLSA ?? []).map((tlsa) => ({
        ...base,
        type: 'TLSA',
        data: {
          usage: tlsa.usage,
          selector: tlsa.selector,
          matchingType: tlsa.matchingType,
          certificate: Buffer.from(tlsa.data, 'hex'),
        },
      }));
    case 'SOA':
      return entry.SOA ? [soaRecord(owner, ttl, entry.SOA)] : [];
    default:
      return [];
  }
}

/**
 * RFC 1035 3.3.14: a TXT record is one or more character-strings of at most 255 octets each.
 * dns-packet writes the length of a longer string modulo 256, so long strings are split here.
 */
function characterStrings(txt: string | string[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const part of Array.isArray(txt) ? txt : [txt]) {
    const bytes = Buffer.from(part);
    if (bytes.length === 0) chunks.push(bytes);
    for (let start = 0; start < bytes.length; start += 255) chunks.push(bytes.subarray(start, start + 255));
  }
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)];
}

/** The shortest listed name that `name` is at or under: the apex of the zone that holds it. */
function apexOf(zones: ZoneIndex, name: string): string | undefined {
  const labels = name.split('.');
  for (let start = labels.length - 1; start >= 0; start--) {
    const candidate = labels.slice(start).join('.');
    if (zones.has(candidate)) return candidate;
  }
  return undefined;
}

function hasDescendant(zones: ZoneIndex, name: string): boolean {
  const suffix = `.${name}`;
  for (const listed of zones.keys()) if (listed.endsWith(suffix)) return true;
  return false;
}

/**
 * The SOA for negative answers (RFC 2308 3): the nearest listed ancestor with an SOA, else one made up for the
 * zone apex whose TTL and MINIMUM are the apex's TTL.
 */
function soaFor(zones: ZoneIndex, name: string): packet.Answer | undefined {
  const labels = name.split('.');
  for (let start = 0; start < labels.length; start++) {
    const candidate = labels.slice(start).join('.');
    const entry = zones.get(candidate);
    if (entry?.SOA) return soaRecord(candidate, entry.ttl ?? DEFAULT_TTL, entry.SOA);
  }
  const apex = apexOf(zones, name);
  if (apex === undefined) return undefined;
  const ttl = zones.get(apex)?.ttl ?? DEFAULT_TTL;
  return soaRecord(apex, ttl, { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, minimum: ttl });
}

function soaRecord(owner: string, ttl: number, soa: ZoneEntry['SOA'] & object): packet.Answer {
  return {
    name: owner,
    type: 'SOA',
    ttl,
    class: 'IN',
    data: {
      mname: soa.mname,
      rname: soa.rname,
      serial: soa.serial ?? 1,
      refresh: soa.refresh ?? 3600,
      retry: soa.retry ?? 600,
      expire: soa.expire ?? 86400,
      minimum: soa.minimum ?? DEFAULT_TTL,
    },
  };
}

function formErr(id: number): Buffer {
  return packet.encode({ type: 'response', id, flags: RCODES.FORMERR, questions: [], answers: [] });
}
