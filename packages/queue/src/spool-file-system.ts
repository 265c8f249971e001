import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** An open file of the spool: the few operations the file backend needs. */
export interface SpoolFile {
  /** Writes all of `data` at the current end (append) or at `position`. */
  write(data: Uint8Array, position?: number): Promise<void>;
  /** Reads up to `length` bytes at `position` into a new buffer. */
  read(length: number, position: number): Promise<Buffer>;
  /** fsync(2): data and metadata on stable storage. */
  sync(): Promise<void>;
  close(): Promise<void>;
  size(): Promise<number>;
}

/**
 * The file operations the spool uses. The default is node:fs; tests inject one that fails
 * writes or fsyncs (ENOSPC, EIO, EROFS) to prove that nothing half-written is acknowledged.
 */
export interface SpoolFileSystem {
  /** Opens for 'w' (create/truncate), 'a' (create/append) or 'r'. */
  open(path: string, mode: 'w' | 'a' | 'r'): Promise<SpoolFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  copyFile(from: string, to: string): Promise<void>;
  /** fsyncs a directory so that the names created or renamed in it are durable. */
  syncDirectory(path: string): Promise<void>;
  createReadStream(path: string, range: { start: number; end: number }): Readable;
}

class NodeSpoolFile implements SpoolFile {
  constructor(private readonly handle: fs.FileHandle) {}

  async write(data: Uint8Array, position?: number): Promise<void> {
    let offset = 0;
    while (offset < data.byteLength) {
      const at = position === undefined ? null : position + offset;
      const { bytesWritten } = await this.handle.write(data, offset, data.byteLength - offset, at);
      offset += bytesWritten;
    }
  }

  async read(length: number, position: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.handle.read(buffer, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buffer.subarray(0, got);
  }

  sync(): Promise<void> {
    return this.handle.sync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }
}

/** The default `SpoolFileSystem`, on node:fs. */
export const nodeSpoolFileSystem: SpoolFileSystem = {
  async open(path, mode) {
    return new NodeSpoolFile(await fs.open(path, mode));
  },
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  async mkdir(path) {
    await fs.mkdir(path, { recursive: true });
  },
  readdir: (path) => fs.readdir(path),
  copyFile: (from, to) => fs.copyFile(from, to),
  async syncDirectory(path) {
    const handle = await fs.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  createReadStream: (path, range) => createReadStream(path, range),
};
