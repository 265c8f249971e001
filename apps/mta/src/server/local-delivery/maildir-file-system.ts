// The file operations the Maildir store uses, behind a small interface so that a test can record
// their order (write, fsync, rename, directory fsync) or make one fail (ENOSPC, EIO).
import { closeSync, fsync, open, write } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';

/** A file open for writing. */
export interface MaildirFile {
  write(chunk: Uint8Array): Promise<void>;
  /** fsync(2): the bytes are on disk when it resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The operations of `createMaildirStore`; `nodeMaildirFileSystem` is the default. */
export interface MaildirFileSystem {
  /** mkdir -p with this mode for every directory it creates. */
  mkdir(path: string, mode: number): Promise<void>;
  /** Creates or truncates a file (mode 600) for writing. */
  create(path: string): Promise<MaildirFile>;
  rename(from: string, to: string): Promise<void>;
  /** fsync(2) of a directory, so that the names created or renamed in it are durable. */
  syncDirectory(path: string): Promise<void>;
  /** The names in a directory; [] when it does not exist. */
  list(path: string): Promise<string[]>;
  /** The size of a file, or undefined when it is gone (Dovecot may expunge it meanwhile). */
  size(path: string): Promise<number | undefined>;
  unlink(path: string): Promise<void>;
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

// Raw descriptors through the callback API rather than fs/promises' FileHandle: one delivery is
// open, write, fsync, close, rename, and each FileHandle call is a trip through libuv's thread pool
// plus a promise and the handle's own bookkeeping. close(2) of a regular file, its data already
// fsynced, does not wait on the disk: it runs here, on the calling thread (one trip fewer).
const openFd = (path: string, flags: string, mode?: number) =>
  new Promise<number>((resolve, reject) =>
    open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd))),
  );
const fsyncFd = (fd: number) =>
  new Promise<void>((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
const writeFd = (fd: number, chunk: Uint8Array, offset: number) =>
  new Promise<number>((resolve, reject) =>
    write(fd, chunk, offset, chunk.byteLength - offset, null, (error, written) =>
      error ? reject(error) : resolve(written),
    ),
  );

/** `MaildirFileSystem` on node:fs/promises. */
export const nodeMaildirFileSystem: MaildirFileSystem = {
  async mkdir(path, mode) {
    await mkdir(path, { recursive: true, mode });
  },
  async create(path) {
    const fd = await openFd(path, 'w', 0o600);
    let closed = false;
    return {
      async write(chunk) {
        let offset = 0;
        while (offset < chunk.byteLength) offset += await writeFd(fd, chunk, offset);
      },
      sync: () => fsyncFd(fd),
      async close() {
        if (closed) return;
        closed = true;
        closeSync(fd);
      },
    };
  },
  rename: (from, to) => rename(from, to),
  async syncDirectory(path) {
    const fd = await openFd(path, 'r');
    try {
      await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
  },
  async list(path) {
    try {
      return await readdir(path);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
  },
  async size(path) {
    try {
      return (await stat(path)).size;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  },
  unlink: (path) => unlink(path),
};
