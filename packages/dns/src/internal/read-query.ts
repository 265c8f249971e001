// Reading a query for the test server (RFC 1035 4.1, RFC 6891 6.1): the header, the one question, and the OPT
// record of the additional section.
import { readName, readUint16, readUint32, skipName, WireFormatError } from './wire-read';
import { TYPE_CODES } from './wire-write';

/** The question as the server needs it: its text, type and class, and its octets to echo back unchanged. */
export interface Question {
  name: string;
  type: string;
  class: number;
  bytes: Uint8Array;
}

/** What to do with a message: ignore it, answer with a bare header, or answer the question. */
export type ParsedQuery =
  | { kind: 'ignore' }
  | { kind: 'header-only'; id: number; flags: number; rcode: 'FORMERR' | 'NOTIMP' }
  | {
      kind: 'question';
      id: number;
      flags: number;
      question: Question;
      edns: { udpSize: number; version: number; doBit: boolean } | undefined;
    };

const TYPE_NAMES = new Map(Object.entries(TYPE_CODES).map(([name, code]) => [code, name]));
const TYPE_OPT = 41;
const OPCODE_QUERY = 0;

/** Reads a query; a malformed one is a FORMERR (RFC 1035 4.1.1), an unknown opcode NOTIMP. */
export function readQuery(bytes: Buffer): ParsedQuery {
  if (bytes.length < 12) return { kind: 'ignore' };
  const id = readUint16(bytes, 0);
  const flags = readUint16(bytes, 2);
  if ((flags & 0x8000) !== 0) return { kind: 'ignore' };
  if (((flags >> 11) & 0x0f) !== OPCODE_QUERY) return { kind: 'header-only', id, flags, rcode: 'NOTIMP' };
  const formErr = { kind: 'header-only', id, flags, rcode: 'FORMERR' } as const;
  if (readUint16(bytes, 4) !== 1) return formErr;
  try {
    const { name, end } = readName(bytes, 12);
    if (end + 4 > bytes.length) return formErr;
    const code = readUint16(bytes, end);
    const question: Question = {
      name,
      type: TYPE_NAMES.get(code) ?? typeName(code),
      class: readUint16(bytes, end + 2),
      bytes: bytes.subarray(12, end + 4),
    };
    let offset = end + 4;
    const records = readUint16(bytes, 6) + readUint16(bytes, 8);
    for (let i = 0; i < records; i++) offset = skipRecord(bytes, offset).end;
    let edns: { udpSize: number; version: number; doBit: boolean } | undefined;
    for (let i = readUint16(bytes, 10); i > 0; i--) {
      const record = skipRecord(bytes, offset);
      if (record.type === TYPE_OPT) {
        // RFC 6891 6.1.1: more than one OPT, or one not owned by the root, is a FORMERR.
        if (edns !== undefined || bytes[offset] !== 0) return formErr;
        const ttl = readUint32(bytes, record.fixed + 4);
        edns = {
          udpSize: readUint16(bytes, record.fixed + 2),
          version: (ttl >>> 16) & 0xff,
          doBit: (ttl & 0x8000) !== 0,
        };
      }
      offset = record.end;
    }
    return { kind: 'question', id, flags, question, edns };
  } catch (error) {
    if (error instanceof WireFormatError) return formErr;
    throw error;
  }
}

/** RFC 3597 5: the text form of a type without a mnemonic. */
function typeName(code: number): string {
  const known: Record<number, string> = {
    48: 'DNSKEY',
    46: 'RRSIG',
    43: 'DS',
    99: 'SPF',
    255: 'ANY',
    252: 'AXFR',
    251: 'IXFR',
  };
  return known[code] ?? `TYPE${code}`;
}

function skipRecord(bytes: Buffer, offset: number): { type: number; fixed: number; end: number } {
  const fixed = skipName(bytes, offset);
  if (fixed + 10 > bytes.length) throw new WireFormatError('a record runs past the end of the message');
  const end = fixed + 10 + readUint16(bytes, fixed + 8);
  if (end > bytes.length) throw new WireFormatError('record data runs past the end of the message');
  return { type: readUint16(bytes, fixed), fixed, end };
}
