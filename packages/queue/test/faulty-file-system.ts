// A SpoolFileSystem over the real one that fails chosen operations on demand, the way a full
// disk (ENOSPC), a dying disk (EIO) or a read-only remount (EROFS) makes them fail.
import { nodeSpoolFileSystem, type SpoolFile, type SpoolFileSystem } from '../src/index';

export type FaultyOperation = 'open' | 'write' | 'sync' | 'rename' | 'syncDirectory';

export class FaultyFileSystem implements SpoolFileSystem {
  /** The operation to fail, optionally only on paths containing `path` (e.g. 'journal'). */
  fault: { operation: FaultyOperation; code: string; path?: string } | undefined;
  readonly calls: Record<FaultyOperation, number> = { open: 0, write: 0, sync: 0, rename: 0, syncDirectory: 0 };

  private check(operation: FaultyOperation, path = ''): void {
    this.calls[operation] += 1;
    if (this.fault?.operation === operation && (this.fault.path === undefined || path.includes(this.fault.path))) {
      throw Object.assign(new Error(`${this.fault.code}: injected ${operation} failure ${path}`), {
        code: this.fault.code,
        syscall: operation,
      });
    }
  }

  async open(path: string, mode: 'w' | 'a' | 'r'): Promise<SpoolFile> {
    if (mode !== 'r') this.check('open', path);
    const file = await nodeSpoolFileSystem.open(path, mode);
    return {
      write: async (data, position) => {
        this.check('write', path);
        await file.write(data, position);
      },
      read: (length, position) => file.read(length, position),
      sync: async () => {
        this.check('sync', path);
        await file.sync();
      },
      close: () => file.close(),
      size: () => file.size(),
    };
  }

  async rename(from: string, to: string): Promise<void> {
    this.check('rename', to);
    await nodeSpoolFileSystem.rename(from, to);
  }

  async syncDirectory(path: string): Promise<void> {
    this.check('syncDirectory', path);
    await nodeSpoolFileSystem.syncDirectory(path);
  }

  unlink = nodeSpoolFileSystem.unlink;
  mkdir = nodeSpoolFileSystem.mkdir;
  readdir = nodeSpoolFileSystem.readdir;
  copyFile = nodeSpoolFileSystem.copyFile;
  createReadStream = nodeSpoolFileSystem.createReadStream;
}
