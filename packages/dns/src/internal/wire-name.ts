// dns-packet strips dots with /^\.|\.$/gm: the `m` flag also strips a dot next to a line terminator inside a name
// ("a\n.example.com" goes out as "a\nexample.com"). Names may hold any octet (RFC 2181 11), so the question is
// encoded here instead, label by label.

/** RFC 1035 3.3.14 / 3.2.2 type codes of the records this package asks for. */
const TYPE_CODES: Record<string, number> = { A: 1, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, TLSA: 52 };
const OPT_TYPE = 41;
const CLASS_IN = 1;
const RECURSION_DESIRED = 1 << 8;

/** The wire form of a name already checked by `checkName` (labels of 1-63 octets, at most 255 in all). */
export function encodeName(name: string): Buffer {
  if (name === '' || name === '.') return Buffer.from([0]);
  const labels = name.split('.').map((label) => Buffer.from(label));
  const parts: Buffer[] = [];
  for (const label of labels) parts.push(Buffer.from([label.length]), label);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A standard query with RD set, one question, and an EDNS0 OPT record when `ednsUdpSize` > 0 (RFC 6891 6.1.2). */
export function encodeQuery(id: number, name: string, type: string, ednsUdpSize: number): Buffer {
  const code = TYPE_CODES[type];
  if (code === undefined) throw new TypeError(`unsupported record type ${type}`);
  const qname = encodeName(name);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(RECURSION_DESIRED, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(ednsUdpSize > 0 ? 1 : 0, 10); // ARCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(code, 0);
  question.writeUInt16BE(CLASS_IN, 2);
  if (ednsUdpSize <= 0) return Buffer.concat([header, qname, question]);
  // OPT RR: root name, TYPE 41, CLASS = UDP payload size, TTL = extended RCODE/version/flags 0, RDLEN 0.
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(OPT_TYPE, 1);
  opt.writeUInt16BE(ednsUdpSize, 3);
  return Buffer.concat([header, qname, question, opt]);
}
