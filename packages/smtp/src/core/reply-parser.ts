import { SmtpClientError } from './client-error';
import type { Reply } from './reply';

/** Limits that keep a hostile server from making the parser's memory grow without bound. */
export interface ReplyParserOptions {
  /**
   * Longest reply line accepted, in octets including CRLF. RFC 5321 4.5.3.1.5 sets 512;
   * real servers exceed it (long EHLO or banner lines), so the default is more generous.
   */
  maxLineLength?: number;
  /** Most lines one multi-line reply may have (an EHLO reply has one per extension). */
  maxLines?: number;
}

/** Default for `ReplyParserOptions.maxLineLength`. */
export const DEFAULT_MAX_REPLY_LINE_LENGTH = 4096;
/** Default for `ReplyParserOptions.maxLines`. */
export const DEFAULT_MAX_REPLY_LINES = 128;

const LF = 0x0a;
const CR = 0x0d;
// RFC 3463 2: class "." subject "." detail, where class is 2, 4 or 5.
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;

/**
 * Streaming, sans-IO parser of SMTP replies (RFC 5321 4.2). Feed it bytes as they arrive,
 * in any split; it returns each reply once its last line is complete. Garbage and
 * oversized replies throw `SmtpClientError` with code `PROTOCOL` or `REPLY_TOO_LONG`,
 * after which the parser stays failed (the stream can no longer be trusted).
 */
export class ReplyParser {
  readonly #maxLineLength: number;
  readonly #maxLines: number;
  /** Bytes of the current, incomplete line. */
  #partial: Buffer[] = [];
  #partialLength = 0;
  /** Lines of the current multi-line reply, with their code. */
  #lines: string[] = [];
  #code = 0;
  #failure: SmtpClientError | undefined;

  constructor(options: ReplyParserOptions = {}) {
    this.#maxLineLength = options.maxLineLength ?? DEFAULT_MAX_REPLY_LINE_LENGTH;
    this.#maxLines = options.maxLines ?? DEFAULT_MAX_REPLY_LINES;
  }

  /** True while part of a reply has been received but not all of it. */
  get inProgress(): boolean {
    return this.#partialLength > 0 || this.#lines.length > 0;
  }

  /** Takes the next bytes from the server and returns every reply they complete, in order. */
  push(chunk: Uint8Array): Reply[] {
    if (this.#failure) throw this.#failure;
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const replies: Reply[] = [];
    let start = 0;
    try {
      while (start < data.length) {
        const lf = data.indexOf(LF, start);
        if (lf === -1) {
          this.#keepPartial(data.subarray(start));
          break;
        }
        if (this.#partialLength + (lf + 1 - start) > this.#maxLineLength) this.#tooLong();
        let line: Buffer;
        if (this.#partialLength > 0) {
          this.#partial.push(data.subarray(start, lf));
          line = Buffer.concat(this.#partial);
          this.#partial = [];
          this.#partialLength = 0;
        } else {
          line = data.subarray(start, lf);
        }
        start = lf + 1;
        // A bare LF is tolerated as a line end (RFC 5321 4.1.1.4 asks receivers to be liberal).
        const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
        const reply = this.#line(line.toString('utf8', 0, end));
        if (reply) replies.push(reply);
      }
    } catch (error) {
      this.#failure = error instanceof SmtpClientError ? error : new SmtpClientError('PROTOCOL', String(error));
      throw this.#failure;
    }
    return replies;
  }

  #keepPartial(rest: Buffer): void {
    if (this.#partialLength + rest.length > this.#maxLineLength) this.#tooLong();
    // Copy: the caller may reuse its buffer.
    this.#partial.push(Buffer.from(rest));
    this.#partialLength += rest.length;
  }

  #tooLong(): never {
    throw new SmtpClientError('REPLY_TOO_LONG', `reply line longer than ${this.#maxLineLength} octets`);
  }

  #line(text: string): Reply | undefined {
    // RFC 5321 4.2: Reply-code [ ("-" / SP) textstring ] CRLF, code 2yz..5yz, second digit 0..5.
    const c0 = text.charCodeAt(0);
    const c1 = text.charCodeAt(1);
    const c2 = text.charCodeAt(2);
    const separator = text.length > 3 ? text[3] : ' ';
    if (
      !(c0 >= 0x32 && c0 <= 0x35) ||
      !(c1 >= 0x30 && c1 <= 0x35) ||
      !(c2 >= 0x30 && c2 <= 0x39) ||
      (separator !== ' ' && separator !== '-')
    ) {
      throw new SmtpClientError('PROTOCOL', `not an SMTP reply line: ${JSON.stringify(text.slice(0, 80))}`);
    }
    const code = (c0 - 0x30) * 100 + (c1 - 0x30) * 10 + (c2 - 0x30);
    if (this.#lines.length > 0 && code !== this.#code) {
      throw new SmtpClientError('PROTOCOL', `multi-line reply changed code from ${this.#code} to ${code}`);
    }
    if (this.#lines.length >= this.#maxLines) {
      throw new SmtpClientError('REPLY_TOO_LONG', `reply has more than ${this.#maxLines} lines`);
    }
    this.#code = code;
    this.#lines.push(text.length > 4 ? text.slice(4) : '');
    if (separator === '-') return undefined;
    const reply = withEnhancedCode(code, this.#lines);
    this.#lines = [];
    return reply;
  }
}

/**
 * RFC 2034 3: with ENHANCEDSTATUSCODES every line starts with the same enhanced code, whose
 * class matches the reply's first digit. Split it off when the first line carries one.
 */
function withEnhancedCode(code: number, lines: string[]): Reply {
  const first = ENHANCED.exec(lines[0] ?? '');
  if (!first || Number(first[1]) !== Math.floor(code / 100)) return { code, lines };
  const enhanced = `${first[1]}.${first[2]}.${first[3]}`;
  const prefix = first[0].trimEnd();
  return {
    code,
    enhanced,
    lines: lines.map((line) => (line.startsWith(prefix) ? line.slice(prefix.length).replace(/^ /, '') : line)),
  };
}

/** Parses one complete reply given whole, for tests and one-off use. Throws like `ReplyParser`. */
export function parseReply(text: string, options?: ReplyParserOptions): Reply {
  const parser = new ReplyParser(options);
  const replies = parser.push(Buffer.from(text, 'utf8'));
  if (replies.length !== 1 || parser.inProgress) {
    throw new SmtpClientError('PROTOCOL', `expected exactly one complete reply, got ${replies.length}`);
  }
  return replies[0]!;
}
