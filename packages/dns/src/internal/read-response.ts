// The resolver's reader of responses (RFC 1035 4.1): checks that a datagram answers our query, then takes out
// only what `interpret` needs: the answer records of the asked type and CNAMEs, the authority SOA, the flags.
// A reader of our own rather than dns-packet's full decode: it runs for every answer, and building objects for
// every field and record it does not need was most of the resolver's own CPU time per lookup.
import { canonicalName } from './name';
import { asciiOrUtf8, ipv6Text, readName, readUint16, readUint32, skipName, WireFormatError } from './wire-read';

/** A record of the answer section, its data in the shape the resolver returns (see README). */
export interface AnswerRecord {
  /** Owner name, canonical (lower case, no trailing dot). */
  owner: string;
  type: string;
  ttl: number;
  data: unknown;
}

/** What the resolver needs of a response. */
export interface Response {
  rcode: string;
  truncated: boolean;
  authenticated: boolean;
  /** Whether the response carries an OPT record (RFC 6891): a FORMERR without one means "no EDNS here". */
  hasOpt: boolean;
  answers: AnswerRecord[];
  /** TTL and MINIMUM of the authority section's SOA, for negative caching (RFC 2308 5). */
  soa: { ttl: number; minimum: number } | undefined;
}

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const TYPE_NAMES: Record<number, string> = {
  1: 'A',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  52: 'TLSA',
};
const TYPE_CNAME = 5;
const TYPE_SOA = 6;
const TYPE_OPT = 41;
const CLASS_IN = 1;
const QR = 0x8000;

/**
 * Reads `bytes` as the answer to `query` (our own encoded query, whose id octets are set): `foreign` when it is not
 * one (another id, not a response, another question: RFC 5452 9.1), `malformed` when it cannot be read.
 * `name` is the name asked, as checked by `checkName`.
 */
export function readResponse(bytes: Buffer, query: Buffer, name: string): Response | 'malformed' | 'foreign' {
  if (bytes.length < 12 || bytes[0] !== query[0] || bytes[1] !== query[1]) return 'foreign';
  const flags = readUint16(bytes, 2);
  if ((flags & QR) === 0) return 'foreign';
  // The question must be ours: same name octets (ASCII letters compared without case, RFC 4343), type and class.
  // Our question starts at 12 and ends 4 octets after its name; a response's first name cannot be compressed.
  const questionEnd = skipName(query, 12) + 4;
  if (readUint16(bytes, 4) !== 1 || bytes.length < questionEnd) return otherwise(bytes);
  for (let i = 12; i < questionEnd; i++) {
    const a = bytes[i] as number;
    const b = query[i] as number;
    if (a === b) continue;
    // Length octets are below 64, so only letters of the name can differ in case; QTYPE and QCLASS cannot.
    if (i >= questionEnd - 4 || (a | 0x20) !== (b | 0x20) || !isAsciiLetter(a | 0x20)) return otherwise(bytes);
  }
  try {
    return readSections(bytes, flags, questionEnd, canonicalName(name));
  } catch (error) {
    if (error instanceof WireFormatError) return 'malformed';
    throw error;
  }
}

/** A response with our id that asks another question: `foreign` if it is a well-formed message, else `malformed`. */
function otherwise(bytes: Buffer): 'malformed' | 'foreign' {
  try {
    let offset = 12;
    for (let i = readUint16(bytes, 4); i > 0; i--) offset = skipName(bytes, offset) + 4;
    const records = readUint16(bytes, 6) + readUint16(bytes, 8) + readUint16(bytes, 10);
    for (let i = 0; i < records; i++) {
      offset = skipName(bytes, offset);
      if (offset + 10 > bytes.length) return 'malformed';
      offset += 10 + readUint16(bytes, offset + 8);
    }
    return offset <= bytes.length ? 'foreign' : 'malformed';
  } catch (error) {
    if (error instanceof WireFormatError) return 'malformed';
    throw error;
  }
}

function isAsciiLetter(lower: number): boolean {
  return lower >= 0x61 && lower <= 0x7a;
}

function readSections(bytes: Buffer, flags: number, questionEnd: number, asked: string): Response {
  const answerCount = readUint16(bytes, 6);
  const authorityCount = readUint16(bytes, 8);
  const additionalCount = readUint16(bytes, 10);
  const response: Response = {
    rcode: RCODE_NAMES[flags & 0x0f] ?? `RCODE${flags & 0x0f}`,
    truncated: (flags & 0x0200) !== 0,
    authenticated: (flags & 0x0020) !== 0,
    hasOpt: false,
    answers: [],
    soa: undefined,
  };
  let offset = questionEnd;
  const total = answerCount + authorityCount + additionalCount;
  for (let index = 0; index < total; index++) {
    // The common owner is a pointer to the question (0xC00C): no need to read it.
    const pointsAtQuestion = bytes[offset] === 0xc0 && bytes[offset + 1] === 12;
    const ownerStart = offset;
    offset = pointsAtQuestion ? offset + 2 : skipName(bytes, offset);
    if (offset + 10 > bytes.length) throw new WireFormatError('a record runs past the end of the message');
    const type = readUint16(bytes, offset);
    const recordClass = readUint16(bytes, offset + 2);
    const ttl = readUint32(bytes, offset + 4);
    const length = readUint16(bytes, offset + 8);
    const start = offset + 10;
    const end = start + length;
    if (end > bytes.length) throw new WireFormatError('record data runs past the end of the message');
    offset = end;
    if (index >= answerCount + authorityCount) {
      if (type === TYPE_OPT) response.hasOpt = true;
      continue;
    }
    if (recordClass !== CLASS_IN) continue;
    if (index >= answerCount) {
      if (type === TYPE_SOA && response.soa === undefined) {
        const mname = skipName(bytes, start);
        const rnameEnd = skipName(bytes, mname);
        if (rnameEnd + 20 > end) throw new WireFormatError('an SOA record is too short');
        response.soa = { ttl, minimum: readUint32(bytes, rnameEnd + 16) };
      }
      continue;
    }
    const typeName = TYPE_NAMES[type];
    if (typeName === undefined || type === TYPE_SOA) continue;
    const owner = pointsAtQuestion ? asked : canonicalName(readName(bytes, ownerStart).name);
    response.answers.push({ owner, type: typeName, ttl, data: readData(bytes, type, start, end) });
  }
  return response;
}

/** The record data in the resolver's record shapes (see README), checked against its length. */
function readData(bytes: Buffer, type: number, start: number, end: number): unknown {
  const length = end - start;
  switch (type) {
    case 1:
      if (length !== 4) throw new WireFormatError('an A record is not 4 octets');
      return `${bytes[start]}.${bytes[start + 1]}.${bytes[start + 2]}.${bytes[start + 3]}`;
    case 28:
      if (length !== 16) throw new WireFormatError('an AAAA record is not 16 octets');
      return ipv6Text(bytes, start);
    case 15: {
      if (length < 3) throw new WireFormatError('an MX record is too short');
      const exchange = readName(bytes, start + 2);
      if (exchange.end !== end) throw new WireFormatError('an MX record has the wrong length');
      return { exchange: exchange.name, priority: readUint16(bytes, start) };
    }
    case TYPE_CNAME:
    case 12: {
      const target = readName(bytes, start);
      if (target.end !== end) throw new WireFormatError('a name record has the wrong length');
      return target.name;
    }
    case 16: {
      // RFC 7208 3.3: the character-strings of one record are joined with nothing between them.
      const parts: Buffer[] = [];
      for (let at = start; at < end; ) {
        const size = bytes[at] as number;
        if (at + 1 + size > end) throw new WireFormatError('a TXT character-string runs past its record');
        parts.push(bytes.subarray(at + 1, at + 1 + size));
        at += 1 + size;
      }
      if (parts.length === 1) return asciiOrUtf8(bytes, start + 1, end);
      return Buffer.concat(parts).toString('utf8');
    }
    case 52:
      if (length < 3) throw new WireFormatError('a TLSA record is too short');
      return {
        usage: bytes[start],
        selector: bytes[start + 1],
        matchingType: bytes[start + 2],
        data: new Uint8Array(bytes.subarray(start + 3, end)),
      };
    default:
      return undefined;
  }
}
