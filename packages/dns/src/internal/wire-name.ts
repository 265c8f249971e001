// dns-packet strips dots with /^\.|\.$/gm: the `m` flag also strips a dot next to a line terminator inside a name
// ("a\n.example.com" goes out as "a\nexample.com"). Names may hold any octet (RFC 2181 11), so the question is
// encoded here instead, label by label.

/** RFC 1035 3.3.14 / 3.2.2 type codes of the records this package asks for. */
const TYPE_CODES: Record<string, number> = { A: 1, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, TLSA: 52 };
const OPT_TYPE = 41;
const CLASS_IN = 1;
const RECURSION_DESIRED = 1 << 8;
// RFC 6840 5.7: AD set in a query asks a validating resolver to report the AD bit in its answer (without DO,
// which would bring RRSIGs along); DANE needs that bit (RFC 7672 2.2).
const AUTHENTIC_DATA = 1 << 5;

/** The wire form of a name already checked by `checkName` (labels of 1-63 octets, at most 255 in all). */
export function encodeName(name: string): Buffer {
  const buffer = Buffer.alloc(nameLength(name));
  writeName(name, buffer, 0);
  return buffer;
}

function nameLength(name: string): number {
  return name === '' || name === '.' ? 1 : Buffer.byteLength(name) + 2;
}

/** Writes the labels at `offset`, each after its length octet, and the root label; returns the offset after. */
function writeName(name: string, buffer: Buffer, offset: number): number {
  if (name !== '' && name !== '.') {
    // An ASCII name (nearly all) is written octet by octet: a label's length octet goes where the dot was.
    let lengthAt = offset;
    let at = offset + 1;
    for (let i = 0; i < name.length; i++) {
      const code = name.charCodeAt(i);
      if (code >= 0x80) return writeLabels(name, buffer, offset);
      if (code === 0x2e) {
        buffer[lengthAt] = at - lengthAt - 1;
        lengthAt = at;
      } else buffer[at] = code;
      at++;
    }
    buffer[lengthAt] = at - lengthAt - 1;
    offset = at;
  }
  buffer[offset] = 0;
  return offset + 1;
}

function writeLabels(name: string, buffer: Buffer, offset: number): number {
  for (const label of name.split('.')) {
    const length = buffer.write(label, offset + 1);
    buffer[offset] = length;
    offset += length + 1;
  }
  buffer[offset] = 0;
  return offset + 1;
}

/** A standard query with RD and AD set, one question, and an EDNS0 OPT record when `ednsUdpSize` > 0 (RFC 6891 6.1.2). */
export function encodeQuery(id: number, name: string, type: string, ednsUdpSize: number): Buffer {
  const code = TYPE_CODES[type];
  if (code === undefined) throw new TypeError(`unsupported record type ${type}`);
  const withOpt = ednsUdpSize > 0;
  // One allocation: header (12) + name + QTYPE/QCLASS (4) + the OPT record (11). Not zero-filled (that costs a
  // fresh ArrayBuffer each time): every octet is written below.
  const buffer = Buffer.allocUnsafe(12 + nameLength(name) + 4 + (withOpt ? 11 : 0));
  buffer.writeUInt16BE(id, 0);
  buffer.writeUInt16BE(RECURSION_DESIRED | AUTHENTIC_DATA, 2);
  buffer.writeUInt16BE(1, 4); // QDCOUNT
  buffer.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  buffer.writeUInt16BE(withOpt ? 1 : 0, 10); // ARCOUNT
  let offset = writeName(name, buffer, 12);
  buffer.writeUInt16BE(code, offset);
  buffer.writeUInt16BE(CLASS_IN, offset + 2);
  offset += 4;
  if (withOpt) {
    // OPT RR: root name (0), TYPE 41, CLASS = UDP payload size, TTL = extended RCODE/version/flags 0, RDLENGTH 0.
    buffer[offset] = 0;
    buffer.writeUInt16BE(OPT_TYPE, offset + 1);
    buffer.writeUInt16BE(ednsUdpSize, offset + 3);
    buffer.writeUInt32BE(0, offset + 5);
    buffer.writeUInt16BE(0, offset + 9);
  }
  return buffer;
}
