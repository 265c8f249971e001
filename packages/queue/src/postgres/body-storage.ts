import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import type { GatheredBody } from '../internal/body-input';
import { receiveBody, storageError } from '../internal/receive-body';
import type { BodyInput } from '../queue';
import { QueueError } from '../queue-error';
import { nodeSpoolFileSystem } from '../spool-file-system';

/** A body received and ready for its message's transaction. */
export interface PreparedBody {
  size: number;
  /** The whole body as chunk 0, inserted by the envelope's own statement; null when empty or written otherwise. */
  chunk: Buffer | null;
  /** The file name in the shared body directory, or null for a body in the database. */
  bodyFile: string | null;
  /** When the body file began to be written (the queue's clock): see `assertBodyFresh`. */
  startedAt?: number;
  /** Inserts the remaining chunks, inside the transaction (a body spilled to a temporary file). */
  writeChunks?: (client: PoolClient) => Promise<void>;
  /** Called once the transaction is over: removes the temporary file, and the body file when it failed. */
  finish(committed: boolean): Promise<void>;
}

const fs = nodeSpoolFileSystem;

/**
 * Where bodies live: `bytea` chunks of `chunkBytes` in `body_chunks` (default), or one file per
 * message in a directory shared by the hosts. Never more than one chunk of a body is in memory.
 */
export class BodyStorage {
  constructor(
    private readonly s: string,
    private readonly chunkBytes: number,
    private readonly temporaryDirectory: string,
    private readonly bodyDirectory: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async open(): Promise<void> {
    await fs.mkdir(this.bodyDirectory ?? this.temporaryDirectory);
  }

  /** Receives a body (streams spill to a file past one chunk) and prepares it for the transaction. */
  async prepare(id: string, prepend: Buffer, body: BodyInput): Promise<PreparedBody> {
    const directory = this.bodyDirectory ?? this.temporaryDirectory;
    const gathered = await receiveBody(fs, directory, id, prepend, body, this.chunkBytes);
    if (this.bodyDirectory !== undefined) return this.toBodyFile(id, gathered);
    if (gathered.kind === 'inline') {
      const size = gathered.data.byteLength;
      return { size, chunk: size === 0 ? null : gathered.data, bodyFile: null, finish: async () => undefined };
    }
    const { path, length } = gathered;
    // Opened for writing while the body arrived: read it back through a handle of its own.
    await gathered.file.close().catch(() => undefined);
    return {
      size: length,
      chunk: null,
      bodyFile: null,
      writeChunks: async (client) => {
        const file = await fs.open(path, 'r');
        try {
          for (let offset = 0, n = 0; offset < length; offset += this.chunkBytes, n += 1) {
            const data = await file.read(Math.min(this.chunkBytes, length - offset), offset);
            await client.query(`INSERT INTO ${this.s}.body_chunks (message_id, n, data) VALUES ($1, $2, $3)`, [
              id,
              n,
              data,
            ]);
          }
        } finally {
          await file.close();
        }
      },
      finish: async () => {
        await fs.unlink(path).catch(() => undefined);
      },
    };
  }

  /** A follow-up's body (always whole in memory: a bounce or a notice). */
  async prepareBuffer(id: string, data: Buffer): Promise<PreparedBody> {
    if (this.bodyDirectory !== undefined) {
      return this.toBodyFile(id, { kind: 'inline', data, crc: 0 });
    }
    if (data.byteLength <= this.chunkBytes) {
      return {
        size: data.byteLength,
        chunk: data.byteLength === 0 ? null : data,
        bodyFile: null,
        finish: async () => {},
      };
    }
    return {
      size: data.byteLength,
      chunk: null,
      bodyFile: null,
      writeChunks: async (client) => {
        for (let offset = 0, n = 0; offset < data.byteLength; offset += this.chunkBytes, n += 1) {
          const chunk = data.subarray(offset, offset + this.chunkBytes);
          await client.query(`INSERT INTO ${this.s}.body_chunks (message_id, n, data) VALUES ($1, $2, $3)`, [
            id,
            n,
            chunk,
          ]);
        }
      },
      finish: async () => undefined,
    };
  }

  /** The file is durable (fsynced, and its name in the fsynced directory) before the COMMIT names it. */
  private async toBodyFile(id: string, gathered: GatheredBody): Promise<PreparedBody> {
    const directory = this.bodyDirectory!;
    // Before the file's mtime, which the sweep of the directory compares with its margin.
    const startedAt = this.now();
    const name = `${id}.eml`;
    const target = join(directory, name);
    let size: number;
    try {
      if (gathered.kind === 'spilled') {
        size = gathered.length;
        await gathered.file.sync();
        await gathered.file.close();
        await fs.rename(gathered.path, target);
      } else {
        size = gathered.data.byteLength;
        const file = await fs.open(target, 'w');
        try {
          await file.write(gathered.data);
          await file.sync();
        } finally {
          await file.close();
        }
      }
      await fs.syncDirectory(directory);
    } catch (error) {
      if (gathered.kind === 'spilled') await fs.unlink(gathered.path).catch(() => undefined);
      await fs.unlink(target).catch(() => undefined);
      throw storageError(error, 'writing a message body file');
    }
    return {
      size,
      chunk: null,
      bodyFile: name,
      startedAt,
      finish: async (committed) => {
        if (!committed) await fs.unlink(target).catch(() => undefined);
      },
    };
  }

  /** Deletes the body file of a message that left the queue (its rows go with the message). */
  async delete(bodyFile: string | null): Promise<void> {
    if (bodyFile !== null && this.bodyDirectory !== undefined) await fs.unlink(join(this.bodyDirectory, bodyFile));
  }

  /** The stored bytes of message `id`: read chunk by chunk as the consumer pulls, or from its file. */
  read(pool: Pool, id: string, size: number, bodyFile: string | null): Readable {
    if (bodyFile !== null) {
      if (this.bodyDirectory === undefined) {
        throw new QueueError(
          'STORAGE_UNAVAILABLE',
          `message ${id} has its body in a file, and no bodyDirectory is set`,
        );
      }
      if (size === 0) return Readable.from([]);
      return fs.createReadStream(join(this.bodyDirectory, bodyFile), { start: 0, end: size - 1 });
    }
    const s = this.s;
    async function* chunks(): AsyncGenerator<Buffer> {
      let read = 0;
      for (let n = 0; read < size; n += 1) {
        let rows: { data: Buffer }[];
        try {
          ({ rows } = await pool.query<{ data: Buffer }>(
            `SELECT data FROM ${s}.body_chunks WHERE message_id = $1 AND n = $2`,
            [id, n],
          ));
        } catch (error) {
          throw storageError(error, 'reading a message body');
        }
        const data = rows[0]?.data;
        if (data === undefined) break;
        read += data.byteLength;
        yield data;
      }
      if (read !== size) {
        throw new QueueError(
          'NOT_FOUND',
          `message ${id} left the queue while its body was read (${read} of ${size} bytes)`,
        );
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }
}
