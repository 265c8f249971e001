import type { SoaData, ZoneEntry } from '../zones';
import { canonicalName } from './name';
import { readQuery } from './read-query';
import { MessageWriter, TYPE_CODES, type WireRecord } from './wire-write';
import { apexOf, wildcardFor, type ZoneIndex } from './zone-index';

// Sans-IO core of the loopback test server: query bytes in, response bytes (or nothing) out. It answers as an
// authoritative server does (RFC 1034 4.3.2), and as NSD does where the RFCs leave a choice: test/nsd-compare.test.ts
// sends the same queries to both.

export { indexZones, type ZoneIndex } from './zone-index';

const QR = 0x8000;
const AUTHORITATIVE_ANSWER = 0x0400;
const TRUNCATED_RESPONSE = 0x0200;
const RECURSION_DESIRED = 0x0100;
const AUTHENTIC_DATA = 0x0020;
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODES;
const BADVERS_HIGH_BITS = 1; // RFC 6891 6.1.3: BADVERS is 16, the extended RCODE's upper 8 bits hold 1
const DO_BIT = 0x8000;
const CLASS_IN = 1;
const CLASS_CH = 3;
const DEFAULT_TTL = 300;
const MAX_CNAME_HOPS = 8;
// RFC 1035 4.2.1: 512 octets over UDP without EDNS0; with it, the client's size, capped at 1232 as NSD does
// (DNS flag day 2020), so that answers are not fragmented.
const CLASSIC_UDP_LIMIT = 512;
const MAX_UDP_LIMIT = 1232;

/** A query the server received: `{ name, type, transport }`. */
export interface QueryLogEntry {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

/** Builds the response to one query, or `undefined` when the server must stay silent. */
export function answerQuery(
  zones: ZoneIndex,
  query: Buffer,
  transport: 'udp' | 'tcp',
  log?: (entry: QueryLogEntry) => void,
): Buffer | undefined {
  const parsed = readQuery(query);
  // Never answer a response (two servers would bounce messages forever), nor a runt without an id.
  if (parsed.kind === 'ignore') return undefined;
  const echoed = (parsed.flags & 0x7800) | (parsed.flags & RECURSION_DESIRED);
  // RFC 1035 4.1.1: opcodes other than QUERY are not implemented; NSD answers them with the bare header.
  if (parsed.kind === 'header-only') return headerOnly(parsed.id, echoed | RCODES[parsed.rcode]);
  const { question, edns } = parsed;
  log?.({ name: question.name, type: question.type, transport });
  const writer = new MessageWriter();
  // NSD leaves the question out of its answer to a class it knows nothing of (neither IN nor CH).
  const withQuestion = question.class === CLASS_IN || question.class === CLASS_CH;
  const writeHeader = (flags: number, counts: [number, number, number]): void => {
    writer.uint16(parsed.id);
    writer.uint16(QR | echoed | flags);
    writer.uint16(withQuestion ? 1 : 0);
    for (const count of counts) writer.uint16(count);
    if (!withQuestion) return;
    writer.octets(question.bytes);
    writer.rememberName(question.name, 12);
  };
  const opt = edns && { doBit: edns.doBit, badVersion: edns.version > 0 };
  // RFC 6891 6.1.3: a version we do not know gets BADVERS, with our version (0) in the OPT.
  if (opt?.badVersion) return finish(writer, writeHeader, 0, [], [], [], opt);
  // As NSD (RFC 6895 3.3.2 leaves it open): only class IN is served; CH (version.bind...) and the rest are refused.
  if (question.class !== CLASS_IN) return finish(writer, writeHeader, RCODES.REFUSED, [], [], [], opt);
  const built = buildResponse(zones, question.name, question.type, transport);
  if (built === undefined) return undefined;
  const flags =
    RCODES[built.rcode] | (built.authoritative ? AUTHORITATIVE_ANSWER : 0) | (built.authenticated ? AUTHENTIC_DATA : 0);
  const limit =
    transport === 'tcp'
      ? 65_535
      : edns
        ? Math.min(Math.max(edns.udpSize, CLASSIC_UDP_LIMIT), MAX_UDP_LIMIT)
        : CLASSIC_UDP_LIMIT;
  try {
    return encodeAnswer(writer, writeHeader, built, flags, limit, opt);
  } catch (error) {
    // Zone data the wire cannot carry (an MX preference over 65535, an AAAA that is no IPv6 address, in zones
    // written as plain objects): SERVFAIL, as a server does for a zone it cannot load, rather than a crash.
    if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
    writer.truncate(0);
    return finish(writer, writeHeader, RCODES.SERVFAIL, [], [], [], opt);
  }
}

function encodeAnswer(
  writer: MessageWriter,
  writeHeader: (flags: number, counts: [number, number, number]) => void,
  built: BuiltResponse,
  flags: number,
  limit: number,
  opt: { doBit: boolean; badVersion: boolean } | undefined,
): Buffer {
  if (!built.truncate) {
    const full = finish(writer, writeHeader, flags, built.answers, built.authorities, built.additionals, opt);
    if (full.length <= limit) return full;
    // RFC 2181 9: additional data that does not fit is left out without TC, and so is the NS of a positive
    // answer (NSD does the same); the answer itself, or a negative answer's SOA, needs TC.
    writer.truncate(0);
    const lean = finish(writer, writeHeader, flags, built.answers, built.authorities, [], opt);
    if (lean.length <= limit) return lean;
    writer.truncate(0);
    if (built.answers.length > 0 && built.authorities.every((record) => record.type === 'NS')) {
      const bare = finish(writer, writeHeader, flags, built.answers, [], [], opt);
      if (bare.length <= limit) return bare;
      writer.truncate(0);
    }
  }
  // RFC 2181 9: a truncated answer is one the client must not use; it retries over TCP.
  return finish(writer, writeHeader, flags | TRUNCATED_RESPONSE, [], [], [], opt);
}

function finish(
  writer: MessageWriter,
  writeHeader: (flags: number, counts: [number, number, number]) => void,
  flags: number,
  answers: WireRecord[],
  authorities: WireRecord[],
  additionals: WireRecord[],
  opt: { doBit: boolean; badVersion: boolean } | undefined,
): Buffer {
  writeHeader(flags, [answers.length, authorities.length, additionals.length + (opt ? 1 : 0)]);
  for (const record of answers) writer.record(record);
  for (const record of authorities) writer.record(record);
  for (const record of additionals) writer.record(record);
  if (opt) {
    // RFC 6891 6.1.2: root owner, our UDP size, extended RCODE, version 0, and the DO bit copied (RFC 3225 3).
    writer.uint8(0);
    writer.uint16(TYPE_CODES.OPT as number);
    writer.uint16(MAX_UDP_LIMIT);
    writer.uint8(opt.badVersion ? BADVERS_HIGH_BITS : 0);
    writer.uint8(0);
    writer.uint16(opt.doBit ? DO_BIT : 0);
    writer.uint16(0);
  }
  return writer.finish();
}

function headerOnly(id: number, flags: number): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt16BE(id, 0);
  bytes.writeUInt16BE(QR | flags, 2);
  return bytes;
}

interface BuiltResponse {
  rcode: Rcode;
  authoritative: boolean;
  answers: WireRecord[];
  authorities: WireRecord[];
  additionals: WireRecord[];
  authenticated: boolean;
  truncate: boolean;
}

function buildResponse(zones: ZoneIndex, asked: string, type: string, transport: string): BuiltResponse | undefined {
  const canonical = canonicalName(asked);
  const entry = zones.entries.get(canonical);
  const result: BuiltResponse = {
    rcode: 'NOERROR',
    authoritative: true,
    answers: [],
    authorities: [],
    additionals: [],
    authenticated: entry?.authenticated === true,
    truncate: transport === 'udp' && entry?.truncate === true,
  };
  if (entry?.timeout) return undefined;
  if (entry?.servfail) return { ...result, rcode: 'SERVFAIL', authoritative: false };
  if (entry?.refused) return { ...result, rcode: 'REFUSED', authoritative: false };
  if (entry?.formerr) return { ...result, rcode: 'FORMERR', authoritative: false };
  let apex = apexOf(zones, canonical);
  // Not our zone: REFUSED, and not authoritative (NSD, RFC 1035 4.1.1).
  if (apex === undefined) return { ...result, rcode: 'REFUSED', authoritative: false };
  let owner = asked;
  let current = canonical;
  let positive = false;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const found = findNode(zones, current, apex);
    if (found === undefined) {
      // RFC 8020: a name with names under it exists (an empty non-terminal): NODATA, not NXDOMAIN.
      if (!zones.existing.has(current)) result.rcode = 'NXDOMAIN';
      break;
    }
    const records = recordsOf(found, type, owner);
    if (records.length > 0) {
      result.answers.push(...records);
      positive = true;
      break;
    }
    const target = found.CNAME?.[0];
    if (target === undefined || type === 'CNAME') break;
    result.answers.push(...recordsOf(found, 'CNAME', owner));
    owner = target;
    current = canonicalName(target);
    const next = apexOf(zones, current);
    // Out of our zones: the client follows it itself; the answer so far is a positive one.
    if (next === undefined) {
      positive = true;
      break;
    }
    apex = next;
  }
  const apexEntry = zones.entries.get(apex) as ZoneEntry;
  if (!positive) {
    const soa = negativeSoa(apex, apexEntry, zones);
    if (soa) result.authorities.push(soa);
    return result;
  }
  // As NSD: a positive answer carries the zone's NS in the authority section (unless the answer is that very
  // RRset), and the in-zone addresses of the NS, MX and SRV targets as additional data.
  const answersNs = type === 'NS' && current === apex;
  if (!answersNs) result.authorities.push(...recordsOf(apexEntry, 'NS', apex));
  result.additionals.push(...glueFor(zones, apex, [...result.answers, ...result.authorities], result.answers));
  return result;
}

/** The entry answering for `name`: its own, or a wildcard's (RFC 4592), or none. */
function findNode(zones: ZoneIndex, name: string, apex: string): ZoneEntry | undefined {
  const own = zones.entries.get(name);
  if (own !== undefined) return own;
  if (zones.existing.has(name)) return undefined;
  return wildcardFor(zones, name, apex)?.entry;
}

/** A/AAAA records of the in-zone names that NS, MX and SRV records point to, but not those already answered. */
function glueFor(zones: ZoneIndex, apex: string, records: WireRecord[], answers: WireRecord[]): WireRecord[] {
  const glue: WireRecord[] = [];
  const seen = new Set(answers.map((record) => `${canonicalName(record.owner)} ${record.type}`));
  for (const record of records) {
    const target =
      record.type === 'NS'
        ? (record.data as string)
        : record.type === 'MX'
          ? (record.data as { exchange: string }).exchange
          : record.type === 'SRV'
            ? (record.data as { target: string }).target
            : undefined;
    if (target === undefined) continue;
    const name = canonicalName(target);
    if (apexOf(zones, name) !== apex) continue;
    const entry = zones.entries.get(name);
    if (entry === undefined) continue;
    for (const type of ['A', 'AAAA']) {
      if (seen.has(`${name} ${type}`)) continue;
      seen.add(`${name} ${type}`);
      glue.push(...recordsOf(entry, type, target));
    }
  }
  return glue;
}

/** RFC 2308 3: the zone's SOA with the TTL min(SOA TTL, MINIMUM); one made up for a zone written without one. */
function negativeSoa(apex: string, entry: ZoneEntry, zones: ZoneIndex): WireRecord | undefined {
  if (!zones.entries.has(apex)) return undefined;
  const ttl = entry.ttl ?? DEFAULT_TTL;
  const soa = entry.SOA ?? { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, minimum: ttl };
  const record = soaRecord(apex, ttl, soa);
  return { ...record, ttl: Math.min(ttl, (record.data as { minimum: number }).minimum) };
}

function recordsOf(entry: ZoneEntry, type: string, owner: string): WireRecord[] {
  const ttl = entry.ttl ?? DEFAULT_TTL;
  const make = (data: unknown): WireRecord => ({ owner, type, ttl, data });
  switch (type) {
    case 'A':
    case 'AAAA':
    case 'NS':
    case 'PTR':
    case 'MX':
    case 'SRV':
    case 'CAA':
    case 'TLSA':
      return (entry[type] ?? []).map(make);
    case 'TXT':
      return (entry.TXT ?? []).map((txt) => make(characterStrings(txt)));
    case 'CNAME':
      return (entry.CNAME ?? []).slice(0, 1).map(make);
    case 'SOA':
      return entry.SOA ? [soaRecord(owner, ttl, entry.SOA)] : [];
    default:
      return [];
  }
}

/** RFC 1035 3.3.14: a TXT record is one or more character-strings of at most 255 octets each. */
function characterStrings(txt: string | string[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const part of Array.isArray(txt) ? txt : [txt]) {
    const bytes = Buffer.from(part);
    if (bytes.length === 0) chunks.push(bytes);
    for (let start = 0; start < bytes.length; start += 255) chunks.push(bytes.subarray(start, start + 255));
  }
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)];
}

function soaRecord(owner: string, ttl: number, soa: SoaData): WireRecord {
  return {
    owner,
    type: 'SOA',
    ttl,
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
