// The file operations the Maildir store uses, behind a small interface so that a test can record
// their order (write, fsync, rename, directory fsync) or make one fail (ENOSPC, EIO).
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';

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

/** `MaildirFileSystem` on node:fs/promises. */
export const nodeMaildirFileSystem: MaildirFileSystem = {
  async mkdir(path, mode) {
    await mkdir(path, { recursive: true, mode });
  },
  async create(path) {
    const handle = await open(path, 'w', 0o600);
    return {
      async write(chunk) {
        let offset = 0;
        while (offset < chunk.byteLength) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
          offset += bytesWritten;
        }
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
  rename: (from, to) => rename(from, to),
  async syncDirectory(path) {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
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
