/**
 * How the message body travels: `data` dot-stuffs and ends with CRLF.CRLF (RFC 5321 4.5.2,
 * 4.1.1.4); `bdat` only normalises line endings, since BDAT carries a byte count and no
 * terminator (RFC 3030 2).
 */
export type DataEncoderMode = 'data' | 'bdat';

// Without `node:buffer`'s isAscii, so that the core runs in any runtime; one OR per octet is cheap
// next to the copy the encoder makes anyway.
function isAscii(bytes: Uint8Array): boolean {
  let seen = 0;
  for (let i = 0; i < bytes.length; i++) seen |= bytes[i]!;
  return seen < 0x80;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');
const DOT_CRLF = Buffer.from('.\r\n');

/**
 * Streaming, sans-IO encoder of a message body for the wire. It turns bare LF and bare CR
 * into CRLF (RFC 5321 2.3.8: bare line endings are the root of SMTP smuggling, so none
 * reach the server), doubles a leading dot in `data` mode, and on `end()` guarantees the
 * body ends with CRLF (and in `data` mode the CRLF.CRLF terminator). Chunks may split
 * anywhere, including between CR and LF.
 */
export class DataEncoder {
  readonly mode: DataEncoderMode;
  #atLineStart = true;
  /** The previous byte was a CR, already written out as CRLF; a following LF is its pair. */
  #afterCr = false;
  #bytesIn = 0;
  #eightBit = false;
  #ended = false;

  constructor(mode: DataEncoderMode = 'data') {
    this.mode = mode;
  }

  /** Octets given to `encode` so far. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** True once any octet above 127 went through: the body needs BODY=8BITMIME (RFC 6152). */
  get eightBit(): boolean {
    return this.#eightBit;
  }

  /** Encodes the next chunk of the body; the result may be empty. */
  encode(chunk: Uint8Array): Buffer {
    if (this.#ended) throw new Error('DataEncoder: encode() after end()');
    const input = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const length = input.length;
    this.#bytesIn += length;
    if (!this.#eightBit && length > 0 && !isAscii(input)) this.#eightBit = true;
    // Worst case every octet doubles (a lone LF becomes CRLF, a leading dot becomes two).
    const out = Buffer.allocUnsafe(length * 2);
    const stuff = this.mode === 'data';
    let o = 0;
    let i = 0;
    let atLineStart = this.#atLineStart;
    let afterCr = this.#afterCr;
    // Runs between line ends are copied natively; only line ends and leading dots are looked at.
    let nextCr = input.indexOf(CR, 0);
    let nextLf = input.indexOf(LF, 0);
    while (i < length) {
      if (afterCr) {
        afterCr = false;
        if (input[i] === LF) {
          i++;
          continue;
        }
      }
      if (atLineStart && stuff && input[i] === DOT) out[o++] = DOT;
      if (nextCr !== -1 && nextCr < i) nextCr = input.indexOf(CR, i);
      if (nextLf !== -1 && nextLf < i) nextLf = input.indexOf(LF, i);
      const end = nextCr === -1 ? (nextLf === -1 ? length : nextLf) : nextLf === -1 ? nextCr : Math.min(nextCr, nextLf);
      if (end > i) {
        o += input.copy(out, o, i, end);
        i = end;
        atLineStart = false;
      }
      if (i === length) break;
      // input[i] is CR or LF: either way the line ends with CRLF on the wire.
      afterCr = input[i] === CR;
      out[o++] = CR;
      out[o++] = LF;
      atLineStart = true;
      i++;
    }
    this.#atLineStart = atLineStart;
    this.#afterCr = afterCr;
    return out.subarray(0, o);
  }

  /** Finishes the body: the CRLF the last line may lack, then `.` CRLF in `data` mode. */
  end(): Buffer {
    if (this.#ended) throw new Error('DataEncoder: end() called twice');
    this.#ended = true;
    if (this.mode === 'bdat') return this.#atLineStart ? Buffer.alloc(0) : Buffer.from(CRLF);
    return Buffer.from(this.#atLineStart ? DOT_CRLF : CRLF_DOT_CRLF);
  }
}

/** Encodes a whole body at once; `data` mode includes the final CRLF.CRLF. */
export function encodeData(body: Uint8Array | string, mode: DataEncoderMode = 'data'): Buffer {
  const encoder = new DataEncoder(mode);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([encoder.encode(bytes), encoder.end()]);
}

/** The command line that announces one BDAT chunk (RFC 3030 2): `BDAT <size> [LAST]` CRLF. */
export function formatBdatCommand(size: number, last: boolean): Buffer {
  return Buffer.from(`BDAT ${size}${last ? ' LAST' : ''}\r\n`, 'latin1');
}
