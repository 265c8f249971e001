import { join } from 'node:path';
import type { SpoolFile, SpoolFileSystem } from '../spool-file-system';
import { encodeTrailer, readTrailer, type StoredMessage } from './batch-file';
import type { GatheredBody } from './body-input';
import { GroupCommit } from './group-commit';
import { randomHex } from './random-hex';

/** A message ready to commit: its envelope and its gathered body. */
export interface PendingMessage {
  envelope: Omit<StoredMessage, 'offset' | 'length' | 'crc'>;
  body: GatheredBody;
}

/** Where a committed message lives. */
export interface CommittedMessage {
  batch: string;
  stored: StoredMessage;
}

/** Batch commits whose writes and fsyncs may run at the same time (group-commit.ts). */
const COMMITS_IN_FLIGHT = 2;

/** A batch id sorts by creation time, then random. */
export function newBatchId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${randomHex(6)}`;
}

/**
 * The "create message / commit / delete" part of the storage: commits go through a group
 * commit loop that writes every waiting small message into one batch file, finishes the
 * spilled big ones, fsyncs them all, renames them into data/ and fsyncs data/ once.
 */
export class BatchStore {
  private readonly commit: GroupCommit<PendingMessage, CommittedMessage>;
  readonly temporaryDirectory: string;
  readonly dataDirectory: string;

  constructor(
    private readonly fs: SpoolFileSystem,
    spool: string,
    private readonly maxBatchBytes: number,
  ) {
    this.temporaryDirectory = join(spool, 'tmp');
    this.dataDirectory = join(spool, 'data');
    this.commit = new GroupCommit(
      (items) => this.flush(items),
      (items) => {
        let bytes = 0;
        let count = 0;
        for (const item of items) {
          const size = item.body.kind === 'inline' ? item.body.data.byteLength : 0;
          if (count > 0 && (bytes + size > this.maxBatchBytes || count >= 4096)) break;
          bytes += size;
          count += 1;
        }
        return count;
      },
      // Each flush writes a batch file of its own: two at once, so that an acknowledgement does
      // not wait for the fsyncs of a flush that began before its message arrived.
      COMMITS_IN_FLIGHT,
    );
  }

  /** Resolves once the message is durable in data/. */
  store(message: PendingMessage): Promise<CommittedMessage> {
    return this.commit.submit(message);
  }

  path(batch: string): string {
    return join(this.dataDirectory, `${batch}.batch`);
  }

  async idle(): Promise<void> {
    await this.commit.idle();
  }

  async delete(batch: string): Promise<void> {
    await this.fs.unlink(this.path(batch));
  }

  async readBatch(batch: string): Promise<StoredMessage[]> {
    const file = await this.fs.open(this.path(batch), 'r');
    try {
      return await readTrailer(file);
    } finally {
      await file.close();
    }
  }

  private async flush(items: PendingMessage[]): Promise<CommittedMessage[]> {
    const results: CommittedMessage[] = new Array(items.length);
    const files: { batch: string; temporary: string; file: SpoolFile; closed: boolean }[] = [];
    const renamed: string[] = [];
    try {
      const inline = items.map((item, index) => ({ item, index })).filter(({ item }) => item.body.kind === 'inline');
      if (inline.length > 0) {
        const batch = newBatchId();
        const temporary = join(this.temporaryDirectory, `${batch}.batch`);
        const file = await this.fs.open(temporary, 'w');
        files.push({ batch, temporary, file, closed: false });
        const parts: Buffer[] = [];
        const stored: StoredMessage[] = [];
        let offset = 0;
        for (const { item, index } of inline) {
          if (item.body.kind !== 'inline') continue;
          const entry = { ...item.envelope, offset, length: item.body.data.byteLength, crc: item.body.crc };
          parts.push(item.body.data);
          stored.push(entry);
          results[index] = { batch, stored: entry };
          offset += entry.length;
        }
        parts.push(encodeTrailer(stored));
        await file.write(Buffer.concat(parts));
      }
      for (const [index, item] of items.entries()) {
        if (item.body.kind !== 'spilled') continue;
        const batch = newBatchId();
        const entry = { ...item.envelope, offset: 0, length: item.body.length, crc: item.body.crc };
        files.push({ batch, temporary: item.body.path, file: item.body.file, closed: false });
        await item.body.file.write(encodeTrailer([entry]));
        results[index] = { batch, stored: entry };
      }
      // One fsync per file, all at once: the filesystem folds them into one journal commit.
      await Promise.all(files.map(({ file }) => file.sync()));
      await Promise.all(
        files.map(async (entry) => {
          entry.closed = true;
          await entry.file.close();
        }),
      );
      for (const { batch, temporary } of files) {
        await this.fs.rename(temporary, this.path(batch));
        renamed.push(this.path(batch));
      }
      await this.fs.syncDirectory(this.dataDirectory);
      return results;
    } catch (error) {
      // Leave nothing behind that was not acknowledged, including spilled bodies not reached yet.
      for (const item of items) {
        if (
          item.body.kind === 'spilled' &&
          !files.some((entry) => entry.file === (item.body as { file: SpoolFile }).file)
        ) {
          files.push({ batch: '', temporary: item.body.path, file: item.body.file, closed: false });
        }
      }
      for (const entry of files) {
        if (!entry.closed) await entry.file.close().catch(() => undefined);
        await this.fs.unlink(entry.temporary).catch(() => undefined);
      }
      for (const path of renamed) await this.fs.unlink(path).catch(() => undefined);
      throw error;
    }
  }
}
