import type { Reply } from './reply';
import { reply } from './reply-format';

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);
/** RFC 4954 4: a SASL response line, or an AUTH command with its initial response, may be up to 12288 octets. */
export const MAX_AUTH_LINE = 12288;
const BAD_CHARACTERS = /[\0\r\uFFFD]/;
const LINE_TOO_LONG = reply(500, '5.5.2', 'Line too long');
const NOT_CRLF = reply(500, '5.5.2', 'Line must end with CRLF');
const BAD_LINE = reply(500, '5.5.2', 'Invalid characters in command line');

/**
 * The bytes a server session has received and not used yet, and the framing of command lines:
 * CRLF endings only (RFC 5321 2.3.8), the line-length limit (4.5.3.1.4), no NUL or lone CR.
 * The body readers use `buffer` and `offset` directly.
 */
export class SessionInput {
  buffer: Buffer = EMPTY;
  offset = 0;
  /** The peer closed its side (an empty `receive`). */
  peerClosed = false;
  private discardingLine = false;

  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) {
      this.peerClosed = true;
      return;
    }
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    }
    this.offset = 0;
  }

  /** Copies what is still unread into memory of its own (the caller reuses what it gave). */
  retain(): void {
    if (this.offset >= this.buffer.length) this.clear();
    else {
      this.buffer = Buffer.from(this.buffer.subarray(this.offset));
      this.offset = 0;
    }
  }

  /** Forgets everything unread (e.g. bytes pipelined after STARTTLS). */
  clear(): void {
    this.buffer = EMPTY;
    this.offset = 0;
  }

  /** True when bytes are waiting to be used. */
  get unread(): boolean {
    return this.offset < this.buffer.length;
  }

  /**
   * The next command line without its CRLF, `null` when it is not complete yet, or the reply that
   * refuses it (the line is used up either way). `limit` counts the CRLF; with `authAllowed`, a
   * line starting `AUTH ` may be up to `MAX_AUTH_LINE`. An overlong line is dropped as it comes in
   * and refused once it ends.
   */
  readLine(limit: number, authAllowed: boolean): string | Reply | null {
    const buffer = this.buffer;
    const start = this.offset;
    const lf = buffer.indexOf(LF, start);
    if (lf === -1) {
      const waiting = buffer.length - start;
      if (waiting > MAX_AUTH_LINE || (waiting > limit && !(authAllowed && this.isAuth(start)))) {
        this.discardingLine = true;
        this.clear();
      }
      return null;
    }
    this.offset = lf + 1;
    if (this.discardingLine) {
      this.discardingLine = false;
      return LINE_TOO_LONG;
    }
    const length = lf + 1 - start;
    if (length > limit && !(length <= MAX_AUTH_LINE && authAllowed && this.isAuth(start))) return LINE_TOO_LONG;
    if (lf === start || buffer[lf - 1] !== CR) return NOT_CRLF;
    const line = buffer.toString('utf8', start, lf - 1);
    return BAD_CHARACTERS.test(line) ? BAD_LINE : line;
  }

  private isAuth(start: number): boolean {
    return this.buffer.toString('latin1', start, start + 5).toUpperCase() === 'AUTH ';
  }
}
