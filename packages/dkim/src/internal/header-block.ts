// The header block is the only part of a message the signer holds: it is needed whole at the end
// (RFC 6376 5.4.2 signs instances from the bottom up), and it is capped.
import { DkimError } from '../dkim-error';

const CR = 0x0d;
const LF = 0x0a;

/** One header field: its lowercased name and its raw text (latin1, lines joined by CRLF, no final CRLF). */
export interface HeaderField {
  readonly name: string;
  readonly raw: string;
}

/** Collects bytes until the empty line that ends the header block; gives back what follows it. */
export class HeaderBlockReader {
  private buffer: Buffer = Buffer.alloc(0);
  private length = 0;
  private scanFrom = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Adds a chunk; returns the header block and the start of the body once the empty line is seen. */
  write(chunk: Buffer): { header: Buffer; body: Buffer[] } | undefined {
    if (this.length === 0) {
      // Usual case: the first chunk holds the whole header block; the body is then a view, not a copy.
      const end = findHeaderEnd(chunk, 0);
      if (typeof end === 'object' && end.headerEnd <= this.maxBytes) {
        return { header: Buffer.from(chunk.subarray(0, end.headerEnd)), body: [chunk.subarray(end.bodyStart)] };
      }
    }
    const room = this.maxBytes + 3 - this.length;
    const taken = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.append(taken);
    const end = this.findEnd();
    if (end !== undefined) {
      const header = Buffer.from(this.buffer.subarray(0, end.headerEnd));
      const held = Buffer.from(this.buffer.subarray(end.bodyStart, this.length));
      return { header, body: [held, chunk.subarray(taken.length)] };
    }
    if (this.length > this.maxBytes) {
      throw new DkimError(
        'HEADER_TOO_LARGE',
        `the header block is larger than ${this.maxBytes} bytes (raise maxHeaderBytes if the message is genuine)`,
      );
    }
    return undefined;
  }

  /** At the end of the message: a message with no empty line is all header and an empty body. */
  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }

  private append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + chunk.length, 4096));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  private findEnd(): { headerEnd: number; bodyStart: number } | undefined {
    const end = findHeaderEnd(this.buffer.subarray(0, this.length), this.scanFrom);
    if (typeof end === 'object') return end;
    this.scanFrom = end;
    return undefined;
  }
}

/**
 * Where the header block ends: at an empty line (LF LF or LF CR LF), or at once if the data starts
 * with one. Returns the offset to resume scanning from when more data is needed.
 */
function findHeaderEnd(data: Buffer, scanFrom: number): { headerEnd: number; bodyStart: number } | number {
  if (scanFrom === 0) {
    if (data.length >= 1 && data[0] === LF) return { headerEnd: 0, bodyStart: 1 };
    if (data.length >= 2 && data[0] === CR && data[1] === LF) return { headerEnd: 0, bodyStart: 2 };
    if (data.length < 2) return 0;
  }
  let index = data.indexOf(LF, scanFrom);
  while (index !== -1) {
    if (index + 1 >= data.length || (data[index + 1] === CR && index + 2 >= data.length)) return index;
    if (data[index + 1] === LF) return { headerEnd: index + 1, bodyStart: index + 2 };
    if (data[index + 1] === CR && data[index + 2] === LF) return { headerEnd: index + 1, bodyStart: index + 3 };
    index = data.indexOf(LF, index + 1);
  }
  return Math.max(scanFrom, data.length);
}

/** Splits a header block into fields (RFC 5322 2.2: a line starting with WSP continues the field). */
export function parseHeaderFields(block: Buffer): HeaderField[] {
  const lines = block.toString('latin1').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const fields: HeaderField[] = [];
  let current: string[] | undefined;
  const close = () => {
    if (!current) return;
    const raw = current.join('\r\n');
    const colon = raw.indexOf(':');
    // A line with no colon (an mbox "From " line, junk) cannot be signed: it is kept out of the list.
    if (colon > 0) fields.push({ name: raw.slice(0, colon).trim().toLowerCase(), raw });
    current = undefined;
  };
  for (const rawLine of lines) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if ((line.startsWith(' ') || line.startsWith('\t')) && current) current.push(line);
    else {
      close();
      current = [line];
    }
  }
  close();
  return fields;
}
