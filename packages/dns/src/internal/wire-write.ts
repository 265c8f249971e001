// Writing DNS messages (RFC 1035 4.1) for the test server, with name compression (RFC 1035 4.1.4): a name, or
// its tail, already written is replaced by a pointer to it. Sans-IO: records in, bytes out.
import { isIP } from 'node:net';
import type { SoaData } from '../zones';
import { canonicalName } from './name';

/** RFC 1035 3.2.2, RFC 3596, RFC 2782, RFC 6698, RFC 8659: the codes of the types the server serves. */
export const TYPE_CODES: Readonly<Record<string, number>> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  TLSA: 52,
  CAA: 257,
};

/** One resource record to write; `data` has the shape of its `ZoneEntry` field. */
export interface WireRecord {
  owner: string;
  type: string;
  ttl: number;
  data: unknown;
}

const MAX_POINTER_TARGET = 0x3fff;

/** A growing message: octets, and where each name tail already written starts. */
export class MessageWriter {
  #bytes = Buffer.allocUnsafe(512);
  #length = 0;
  readonly #names = new Map<string, number>();

  get length(): number {
    return this.#length;
  }

  /** The message so far (a copy, so that the writer can be reused or dropped). */
  finish(): Buffer {
    return Buffer.from(this.#bytes.subarray(0, this.#length));
  }

  /** Goes back to `length` octets (to drop records that do not fit), forgetting names written after it. */
  truncate(length: number): void {
    this.#length = length;
    for (const [name, offset] of this.#names) if (offset >= length) this.#names.delete(name);
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#bytes.length * 2, this.#length + extra));
    this.#bytes.copy(bigger, 0, 0, this.#length);
    this.#bytes = bigger;
  }

  uint8(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  uint16(value: number): void {
    this.#reserve(2);
    this.#bytes.writeUInt16BE(value, this.#length);
    this.#length += 2;
  }

  uint32(value: number): void {
    this.#reserve(4);
    this.#bytes.writeUInt32BE(value >>> 0, this.#length);
    this.#length += 4;
  }

  octets(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  setUint16(offset: number, value: number): void {
    this.#bytes.writeUInt16BE(value, offset);
  }

  /** Remembers that the name `labels` (wire octets of each label) starts at `offset`, as the question's does. */
  rememberName(name: string, offset: number): void {
    const labels = splitName(name);
    for (let i = 0; i < labels.length && offset <= MAX_POINTER_TARGET; i++) {
      const key = canonicalName(labels.slice(i).join('.'));
      if (!this.#names.has(key)) this.#names.set(key, offset);
      offset += 1 + Buffer.byteLength(labels[i] as string);
    }
  }

  /** Writes a name, compressed unless `compress` is false (RFC 3597 4: only the RFC 1035 types may be). */
  name(name: string, compress = true): void {
    const labels = splitName(name);
    for (let i = 0; i < labels.length; i++) {
      const key = canonicalName(labels.slice(i).join('.'));
      const known = compress ? this.#names.get(key) : undefined;
      if (known !== undefined) {
        this.uint16(0xc000 | known);
        return;
      }
      if (this.#length <= MAX_POINTER_TARGET && !this.#names.has(key)) this.#names.set(key, this.#length);
      const label = Buffer.from(labels[i] as string);
      this.uint8(label.length);
      this.octets(label);
    }
    this.uint8(0);
  }

  /** Writes one record: owner, type, class IN, TTL, and its data with RDLENGTH. */
  record(record: WireRecord): void {
    this.name(record.owner);
    this.uint16(TYPE_CODES[record.type] as number);
    this.uint16(1);
    this.uint32(record.ttl);
    const lengthAt = this.#length;
    this.uint16(0);
    writeData(this, record.type, record.data);
    this.setUint16(lengthAt, this.#length - lengthAt - 2);
  }
}

function splitName(name: string): string[] {
  if (name === '' || name === '.') return [];
  return (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
}

function writeData(writer: MessageWriter, type: string, data: unknown): void {
  switch (type) {
    case 'A':
      for (const part of (data as string).split('.')) writer.uint8(Number(part));
      return;
    case 'AAAA':
      writer.octets(ipv6Octets(data as string));
      return;
    case 'NS':
    case 'CNAME':
    case 'PTR':
      writer.name(data as string);
      return;
    case 'MX': {
      const mx = data as { priority: number; exchange: string };
      writer.uint16(mx.priority);
      writer.name(mx.exchange);
      return;
    }
    case 'TXT':
      for (const chunk of data as Buffer[]) {
        writer.uint8(chunk.length);
        writer.octets(chunk);
      }
      return;
    case 'SRV': {
      // RFC 2782: the target is never compressed.
      const srv = data as { priority: number; weight: number; port: number; target: string };
      writer.uint16(srv.priority);
      writer.uint16(srv.weight);
      writer.uint16(srv.port);
      writer.name(srv.target, false);
      return;
    }
    case 'CAA': {
      // RFC 8659 4.1: flags, tag length, tag, value (the rest of the data).
      const caa = data as { flags: number; tag: string; value: string };
      const tag = Buffer.from(caa.tag);
      writer.uint8(caa.flags);
      writer.uint8(tag.length);
      writer.octets(tag);
      writer.octets(Buffer.from(caa.value));
      return;
    }
    case 'TLSA': {
      const tlsa = data as { usage: number; selector: number; matchingType: number; data: string };
      writer.uint8(tlsa.usage);
      writer.uint8(tlsa.selector);
      writer.uint8(tlsa.matchingType);
      writer.octets(Buffer.from(tlsa.data, 'hex'));
      return;
    }
    case 'SOA': {
      const soa = data as Required<SoaData>;
      writer.name(soa.mname);
      writer.name(soa.rname);
      writer.uint32(soa.serial);
      writer.uint32(soa.refresh);
      writer.uint32(soa.retry);
      writer.uint32(soa.expire);
      writer.uint32(soa.minimum);
      return;
    }
    default:
      throw new TypeError(`cannot write a ${type} record`);
  }
}

/** The 16 octets of an IPv6 address (also with an embedded IPv4 tail). */
function ipv6Octets(address: string): Uint8Array {
  if (isIP(address) !== 6) throw new TypeError(`"${address}" is not an IPv6 address`);
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  const octets = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = Number.parseInt(group, 16);
    octets[index * 2] = value >> 8;
    octets[index * 2 + 1] = value & 0xff;
  });
  return octets;
}
