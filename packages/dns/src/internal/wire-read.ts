// Reading DNS wire format (RFC 1035 4.1): names with compression pointers, and the fixed fields of records.
// Sans-IO and allocation-light, as it runs once per answer on the resolver's hot path.

/** Thrown for bytes that are not a well-formed message; callers turn it into FORMERR or "malformed". */
export class WireFormatError extends Error {}

const MAX_NAME_OCTETS = 255;

/**
 * Reads the name at `offset`: its text (labels as UTF-8 joined with dots, `.` for the root, as dns-packet gives
 * them) and the offset after it in the message. Pointers may only go backwards (RFC 1035 4.1.4: "a prior
 * occurrence"), which also bounds the walk.
 */
export function readName(bytes: Uint8Array, offset: number): { name: string; end: number } {
  let name = '';
  let end = -1;
  let wireLength = 1;
  let limit = offset; // a pointer must point before the start of the name part it replaces
  for (;;) {
    if (offset >= bytes.length) throw new WireFormatError('a name runs past the end of the message');
    const length = bytes[offset] as number;
    if (length === 0) {
      if (end === -1) end = offset + 1;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      if (offset + 1 >= bytes.length) throw new WireFormatError('a name pointer runs past the end of the message');
      const target = ((length & 0x3f) << 8) | (bytes[offset + 1] as number);
      if (target >= limit) throw new WireFormatError('a name pointer does not point backwards');
      if (end === -1) end = offset + 2;
      offset = target;
      limit = target;
      continue;
    }
    if ((length & 0xc0) !== 0) throw new WireFormatError('a label has an unknown type');
    if (offset + 1 + length > bytes.length) throw new WireFormatError('a label runs past the end of the message');
    wireLength += length + 1;
    if (wireLength > MAX_NAME_OCTETS) throw new WireFormatError('a name is longer than 255 octets');
    const label = asciiOrUtf8(bytes, offset + 1, offset + 1 + length);
    name = name === '' ? label : `${name}.${label}`;
    offset += length + 1;
  }
  return { name: name === '' ? '.' : name, end };
}

/** The offset after the name at `offset`, without building its text. */
export function skipName(bytes: Uint8Array, offset: number): number {
  for (let wireLength = 1; ; ) {
    if (offset >= bytes.length) throw new WireFormatError('a name runs past the end of the message');
    const length = bytes[offset] as number;
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) {
      if (offset + 1 >= bytes.length) throw new WireFormatError('a name pointer runs past the end of the message');
      return offset + 2;
    }
    if ((length & 0xc0) !== 0) throw new WireFormatError('a label has an unknown type');
    wireLength += length + 1;
    if (wireLength > MAX_NAME_OCTETS) throw new WireFormatError('a name is longer than 255 octets');
    offset += length + 1;
  }
}

/** Bytes `start..end` as text: a quick path for ASCII (nearly every name), UTF-8 otherwise. */
export function asciiOrUtf8(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) {
    const octet = bytes[i] as number;
    if (octet >= 0x80) return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
    text += String.fromCharCode(octet);
  }
  return text;
}

export function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) << 8) | (bytes[offset + 1] as number);
}

export function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] as number) << 24) |
      ((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number)) >>>
    0
  );
}

/** An IPv6 address in the text form dns-packet (ip-codec) gives: hex groups, the first run of zeros as `::`. */
export function ipv6Text(bytes: Uint8Array, offset: number): string {
  let text = '';
  for (let i = 0; i < 16; i += 2) {
    if (i !== 0) text += ':';
    text += readUint16(bytes, offset + i).toString(16);
  }
  return text.replace(/(^|:)0(:0)*:0(:|$)/, '$1::$3').replace(/:{3,4}/, '::');
}
