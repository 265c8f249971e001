import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** Bytes held in memory before the rest goes to a temporary file (most mail is far smaller). */
const MEMORY_LIMIT = 1024 * 1024;
/** How much of the start of a message is kept for reading its header (Message-ID, From). */
const HEAD_LIMIT = 64 * 1024;

let counter = 0;

/**
 * A message body held between the end of DATA and its enqueue, so it can be read twice (once by
 * the authentication checks, once into the queue) without growing memory with its size: small
 * bodies stay in memory, large ones spill to a temporary file that is never fsynced (the queue
 * makes the durable copy).
 */
export class MessageBuffer {
  private readonly chunks: Buffer[] = [];
  private memoryBytes = 0;
  private file: { path: string; stream: WriteStream } | undefined;
  private head: Buffer[] = [];
  private headBytes = 0;
  /** Octets received. */
  size = 0;

  constructor(private readonly tmpDir: string) {}

  /** Adds a chunk; resolves when it may take the next (back-pressure from the temporary file). */
  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    if (this.headBytes < HEAD_LIMIT) {
      const part = chunk.subarray(0, HEAD_LIMIT - this.headBytes);
      this.head.push(part);
      this.headBytes += part.length;
    }
    if (this.file === undefined && this.memoryBytes + chunk.length <= MEMORY_LIMIT) {
      this.chunks.push(chunk);
      this.memoryBytes += chunk.length;
      return;
    }
    if (this.file === undefined) {
      const path = join(this.tmpDir, `body-${process.pid}-${Date.now()}-${++counter}`);
      const stream = createWriteStream(path, { mode: 0o600 });
      this.file = { path, stream };
      for (const held of this.chunks) stream.write(held);
      this.chunks.length = 0;
      this.memoryBytes = 0;
    }
    // events.once removes its listeners either way (a drain per chunk must not pile them up).
    if (!this.file.stream.write(chunk)) await once(this.file.stream, 'drain');
  }

  /** Marks the end of the body; resolves once a temporary file is complete. */
  async end(): Promise<void> {
    if (this.file) {
      this.file.stream.end();
      await finished(this.file.stream);
    }
  }

  /** The first octets of the message (up to 64 KiB): enough for its header. */
  headText(): string {
    return Buffer.concat(this.head).toString('latin1');
  }

  /** The whole body as a new stream; may be called more than once. */
  stream(): Readable {
    if (this.file) return createReadStream(this.file.path, { highWaterMark: 64 * 1024 });
    return Readable.from(this.chunks, { objectMode: false });
  }

  /** The body as one Buffer, when it is held in memory. */
  buffer(): Buffer | undefined {
    return this.file ? undefined : Buffer.concat(this.chunks, this.memoryBytes);
  }

  /** Frees the memory and removes a temporary file. */
  async dispose(): Promise<void> {
    this.chunks.length = 0;
    this.head = [];
    if (this.file) {
      this.file.stream.destroy();
      await rm(this.file.path, { force: true });
      this.file = undefined;
    }
  }
}

/** The value of the first header field `name` in a message head, unfolded, or undefined. */
export function headerValue(head: string, name: string): string | undefined {
  const end = head.search(/\r?\n\r?\n/);
  const header = end === -1 ? head : head.slice(0, end);
  const pattern = new RegExp(`^${name}[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)`, 'im');
  const match = pattern.exec(header);
  return match?.[1]?.replace(/\r?\n[ \t]/g, ' ').trim();
}
