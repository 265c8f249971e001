// The control socket's protocol, sans-IO: newline-delimited JSON, one request object per line
// `{ id, command, args }`, answered in order by one line `{ id, result }` or
// `{ id, error: { code, message } }`. JSON.stringify never writes a raw newline, so a line is
// always one whole message.

/** The commands a running server takes. */
export const CONTROL_COMMANDS = [
  'queue.list',
  'queue.show',
  'queue.hold',
  'queue.release',
  'queue.remove',
  'queue.flush',
  'reload',
  'status',
] as const;

/** One command name. */
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

/** A request id: echoed back in the response. */
export type RequestId = string | number;

/** One request. */
export interface ControlRequest {
  id: RequestId;
  command: string;
  args: Record<string, unknown>;
}

/** One response: a result or an error. */
export type ControlResponse =
  | { id: RequestId | null; result: unknown }
  | { id: RequestId | null; error: { code: string; message: string } };

/** The longest line either side accepts, bytes: a request is small, a `queue.list` answer can be large. */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** Splits a byte stream into lines; refuses a line longer than the limit instead of buffering it. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The whole lines in `chunk` (and before it), without their newline; throws `RangeError` past the limit. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, newline);
      if (this.pendingBytes + piece.length > this.maxBytes) throw new RangeError(`a line over ${this.maxBytes} bytes`);
      this.pending.push(piece);
      lines.push(Buffer.concat(this.pending).toString('utf8'));
      this.pending = [];
      this.pendingBytes = 0;
      start = newline + 1;
    }
    const rest = chunk.subarray(start);
    if (this.pendingBytes + rest.length > this.maxBytes) throw new RangeError(`a line over ${this.maxBytes} bytes`);
    if (rest.length > 0) {
      // Copied: the caller's buffer may be reused once push returns.
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
    return lines;
  }

  /** True when a partial line is waiting for its newline. */
  get partial(): boolean {
    return this.pendingBytes > 0;
  }
}

/** What `parseRequest` decides: a request, or the error response to send. */
export type ParsedRequest = { ok: true; request: ControlRequest } | { ok: false; response: ControlResponse };

function bad(id: RequestId | null, message: string): ParsedRequest {
  return { ok: false, response: { id, error: { code: 'BAD_REQUEST', message } } };
}

/** Reads one request line. */
export function parseRequest(line: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return bad(null, 'a request is one JSON object on one line: {"id":1,"command":"status","args":{}}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return bad(null, 'a request is a JSON object');
  const { id, command, args } = value as Record<string, unknown>;
  if (typeof id !== 'string' && typeof id !== 'number') return bad(null, 'id must be a string or a number');
  if (typeof command !== 'string') return bad(id, 'command must be a string');
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    return bad(id, 'args must be an object');
  }
  return { ok: true, request: { id, command, args: (args as Record<string, unknown> | undefined) ?? {} } };
}

/** One response as its line, with the newline. */
export function encodeResponse(response: ControlResponse): string {
  return `${JSON.stringify(response)}\n`;
}

/** One request as its line, with the newline. */
export function encodeRequest(request: ControlRequest): string {
  return `${JSON.stringify(request)}\n`;
}
