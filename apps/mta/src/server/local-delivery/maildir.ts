// The Maildir store: one file per (message, recipient) under `{root}/{domain}/{localpart}/`, the
// layout Dovecot reads with `mail_location = maildir:{state}/mail/%d/%n`. A delivery is written in
// tmp/, fsynced, renamed into new/, and new/ is fsynced: once `deliver` resolves the file survives
// a crash (cr.yp.to/proto/maildir.html; the directory fsync is what the rename needs on Linux).
import { join } from 'node:path';
import { DirectorySync } from './directory-sync';
import { LocalDeliveryError } from './local-delivery-error';
import { type MaildirFile, type MaildirFileSystem, nodeMaildirFileSystem } from './maildir-file-system';
import {
  deliveryBaseName,
  deliveryFileName,
  isDeliveryOf,
  mailboxPath,
  maildirHostname,
  sizeFromName,
} from './maildir-names';

/** The Maildir folder of a delivery: the inbox, or the Maildir++ folder `.Junk/`. */
export type MaildirFolder = 'INBOX' | 'Junk';

/** Options of `createMaildirStore`. */
export interface MaildirStoreOptions {
  /** The Maildir root, `{state}/mail`. */
  root: string;
  /** Our host name, the last part of every file name. */
  hostname: string;
  /** How long a mailbox's usage figure is trusted before it is counted again, ms (default 60 s). */
  usageCacheMs?: number;
  /** The file operations (tests inject recording or failing ones). */
  fileSystem?: MaildirFileSystem;
  clock?: { now(): number };
}

/** One delivery: one queued message to one recipient mailbox. */
export interface MaildirDelivery {
  /** The queue id: with the recipient, it names the file (exactly once). */
  queueId: string;
  /** The canonical user mailbox `local@domain`. */
  recipient: string;
  folder: MaildirFolder;
  /** The envelope sender, '' for the null sender: written as `Return-Path: <sender>`. */
  sender: string;
  /** When the message was queued (ms since the epoch, `Claim.createdAt`): the first part of the name. */
  createdAt: number;
  /** The queued bytes, streamed (never gathered in memory): a Readable, or any (async) iterable of chunks. */
  body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;
  /** The size the queue recorded; when given, a body of another size is refused (`SIZE_MISMATCH`). */
  size?: number;
  /**
   * False when the caller knows no earlier attempt of this (message, recipient) can have left a
   * file: the check of new/ and cur/ (a readdir of each) is then skipped. Default true (checked).
   */
  mayExist?: boolean;
}

/** What `deliver` did. */
export interface MaildirResult {
  /** The path of the file (in new/, or where the earlier attempt's file is now). */
  file: string;
  /** True when an earlier attempt had already delivered it; nothing was written. */
  alreadyDelivered: boolean;
  /** Bytes of the file (the added headers included). */
  size: number;
}

/** Writes deliveries into Maildirs and counts what each mailbox holds. */
export interface MaildirStore {
  deliver(delivery: MaildirDelivery): Promise<MaildirResult>;
  /** Bytes stored in a mailbox (the `S=` sizes in new/ and cur/ of the inbox and every folder). */
  usage(mailbox: string): Promise<number>;
  /** The directory of a mailbox's Maildir (the inbox). */
  maildirOf(mailbox: string): string;
}

const DIRECTORY_MODE = 0o700;
/** The most bytes gathered before a write. */
const WRITE_BYTES = 64 * 1024;

/** Creates a Maildir store on `root`. */
export function createMaildirStore(options: MaildirStoreOptions): MaildirStore {
  const fs = options.fileSystem ?? nodeMaildirFileSystem;
  const clock = options.clock ?? { now: Date.now };
  const usageCacheMs = options.usageCacheMs ?? 60_000;
  const host = maildirHostname(options.hostname);
  const directorySync = new DirectorySync(fs);
  // Folders whose tmp/new/cur are known to exist: mkdir is skipped for them after the first time.
  const ready = new Map<string, Promise<void>>();
  const usageCache = new Map<string, { bytes: number; countedAt: number }>();

  const maildirOf = (mailbox: string) => {
    const { domain, local } = mailboxPath(mailbox);
    return join(options.root, domain, local);
  };

  const prepare = (maildir: string, folder: MaildirFolder): Promise<void> => {
    const directory = folder === 'INBOX' ? maildir : join(maildir, '.Junk');
    let done = ready.get(directory);
    if (done === undefined) {
      done = createFolder(fs, options.root, maildir, directory);
      ready.set(directory, done);
      done.catch(() => ready.delete(directory));
    }
    return done;
  };

  const findEarlier = async (directory: string, base: string): Promise<string | undefined> => {
    for (const sub of ['new', 'cur']) {
      const found = (await fs.list(join(directory, sub))).find((name) => isDeliveryOf(name, base));
      if (found !== undefined) return join(directory, sub, found);
    }
    return undefined;
  };

  return {
    maildirOf,
    async deliver(delivery) {
      // The queue refuses CR, LF and NUL in addresses; checked again here, as they would forge headers.
      if (/[\r\n\0]/.test(delivery.sender) || /[\r\n\0]/.test(delivery.recipient)) {
        throw new LocalDeliveryError('INVALID_ADDRESS', 'an address with CR, LF or NUL cannot be written in a header');
      }
      const maildir = maildirOf(delivery.recipient);
      const directory = delivery.folder === 'INBOX' ? maildir : join(maildir, '.Junk');
      const base = deliveryBaseName(delivery.queueId, delivery.recipient, delivery.createdAt, host);
      await prepare(maildir, delivery.folder);
      if (delivery.mayExist !== false) {
        const earlier = await findEarlier(directory, base);
        if (earlier !== undefined) {
          return { file: earlier, alreadyDelivered: true, size: sizeFromName(earlier) ?? 0 };
        }
      }
      // The same tmp/ name on every attempt: a file a crash left there is overwritten, not kept.
      const temporary = join(directory, 'tmp', base);
      const header = deliveryHeaders(delivery);
      let output: MaildirFile;
      try {
        output = await fs.create(temporary);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        // The Maildir was removed while we ran (an admin's rm -r): make it again.
        ready.delete(directory);
        await prepare(maildir, delivery.folder);
        output = await fs.create(temporary);
      }
      const size = await writeFile(fs, output, temporary, header, delivery.body, delivery.size);
      const file = join(directory, 'new', deliveryFileName(base, size));
      await fs.rename(temporary, file);
      await directorySync.sync(join(directory, 'new'));
      const cached = usageCache.get(maildir);
      if (cached !== undefined) cached.bytes += size;
      return { file, alreadyDelivered: false, size };
    },
    async usage(mailbox) {
      const maildir = maildirOf(mailbox);
      const cached = usageCache.get(maildir);
      if (cached !== undefined && clock.now() - cached.countedAt < usageCacheMs) return cached.bytes;
      const countedAt = clock.now();
      const bytes = await countUsage(fs, maildir);
      usageCache.set(maildir, { bytes, countedAt });
      return bytes;
    },
  };
}

/**
 * `Return-Path` and `Delivered-To`, as Postfix's local(8) writes them before the message (RFC
 * 5321 4.4: the final delivery records the reverse-path in Return-Path). The queued bytes already
 * start with our Received and Authentication-Results.
 */
function deliveryHeaders(delivery: MaildirDelivery): Buffer {
  return Buffer.from(`Return-Path: <${delivery.sender}>\r\nDelivered-To: ${delivery.recipient}\r\n`);
}

/** Writes header + body into a new file, fsyncs and closes it; resolves to the bytes written. */
async function writeFile(
  fs: MaildirFileSystem,
  file: MaildirFile,
  path: string,
  header: Buffer,
  body: MaildirDelivery['body'],
  expectedBodySize: number | undefined,
): Promise<number> {
  let bodySize = 0;
  // Small chunks are gathered into one write (the headers and a whole small message: one write(2)
  // instead of two or more, each a trip through libuv's thread pool), at most WRITE_BYTES at a time.
  let pending: Uint8Array[] = [header];
  let pendingBytes = header.byteLength;
  const writePending = async () => {
    const data = pending.length === 1 ? (pending[0] as Uint8Array) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await file.write(data);
  };
  try {
    for await (const chunk of body) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bodySize += bytes.byteLength;
      pending.push(bytes);
      pendingBytes += bytes.byteLength;
      if (pendingBytes >= WRITE_BYTES) await writePending();
    }
    if (pendingBytes > 0) await writePending();
    if (expectedBodySize !== undefined && bodySize !== expectedBodySize) {
      throw new LocalDeliveryError(
        'SIZE_MISMATCH',
        `the queued message has ${bodySize} bytes where the queue recorded ${expectedBodySize}`,
      );
    }
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await fs.unlink(path).catch(() => undefined);
    throw error;
  }
  await file.close();
  return header.byteLength + bodySize;
}

/**
 * Creates tmp/ new/ cur/ of a folder (and of the inbox when the folder is `.Junk`), with the
 * empty `maildirfolder` file Dovecot expects in a Maildir++ folder, then fsyncs every directory
 * from the folder up to the root: a directory created just now (by us, or by a run that crashed
 * before its fsync) must itself survive a crash for the files in it to. Once per folder per run.
 */
async function createFolder(fs: MaildirFileSystem, root: string, maildir: string, directory: string): Promise<void> {
  const folders = directory === maildir ? [maildir] : [maildir, directory];
  for (const folder of folders) {
    for (const sub of ['tmp', 'new', 'cur']) await fs.mkdir(join(folder, sub), DIRECTORY_MODE);
  }
  if (directory !== maildir && !(await exists(fs, directory, 'maildirfolder'))) {
    const marker = await fs.create(join(directory, 'maildirfolder'));
    await marker.sync();
    await marker.close();
  }
  const synced = [...folders.reverse(), join(maildir, '..'), root];
  for (const folder of synced) await fs.syncDirectory(folder);
}

async function exists(fs: MaildirFileSystem, directory: string, name: string): Promise<boolean> {
  return (await fs.list(directory)).includes(name);
}

/** Sums the sizes of every message of a Maildir: new/ and cur/ of the inbox and of each `.Folder`. */
async function countUsage(fs: MaildirFileSystem, maildir: string): Promise<number> {
  const folders = [maildir];
  for (const name of await fs.list(maildir))
    if (name.startsWith('.') && name !== '..') folders.push(join(maildir, name));
  let bytes = 0;
  for (const folder of folders) {
    for (const sub of ['new', 'cur']) {
      const directory = join(folder, sub);
      for (const name of await fs.list(directory)) {
        // Dovecot and we put the size in the name; a file without one (another writer) is stat'ed.
        bytes += sizeFromName(name) ?? (await fs.size(join(directory, name))) ?? 0;
      }
    }
  }
  return bytes;
}
