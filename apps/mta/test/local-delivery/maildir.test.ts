import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLocalDeliveryError } from '../../src/server/local-delivery/local-delivery-error';
import { createMaildirStore, type MaildirDelivery } from '../../src/server/local-delivery/maildir';
import { type MaildirFileSystem, nodeMaildirFileSystem } from '../../src/server/local-delivery/maildir-file-system';
import { directoryName } from '../../src/server/local-delivery/maildir-names';
import { names, temporaryDirectory } from './helpers';

let root = '';
let cleanup: () => Promise<void> = async () => undefined;
beforeEach(async () => {
  const dir = await temporaryDirectory('maildir');
  root = dir.path;
  cleanup = dir.remove;
});
afterEach(() => cleanup());

const message = 'Received: from client.example.net by mx.example.org\r\nSubject: hi\r\n\r\nHello\r\n';
const delivery = (overrides: Partial<MaildirDelivery> = {}): MaildirDelivery => ({
  queueId: '0123456789abcdef',
  recipient: 'alice@example.org',
  folder: 'INBOX',
  sender: 'bob@example.net',
  createdAt: 1_700_000_000_123,
  body: [Buffer.from(message)],
  size: message.length,
  ...overrides,
});

describe('the Maildir store', () => {
  it('writes into {root}/{domain}/{localpart}/new with tmp/ new/ cur/ of mode 700 and an empty tmp/', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const result = await store.deliver(delivery());
    const maildir = join(root, 'example.org', 'alice');
    expect(await names(maildir)).toEqual(['cur', 'new', 'tmp']);
    for (const sub of ['cur', 'new', 'tmp']) expect((await stat(join(maildir, sub))).mode & 0o777).toBe(0o700);
    expect(await names(join(maildir, 'tmp'))).toEqual([]);
    const [name] = await names(join(maildir, 'new'));
    expect(result).toEqual({ file: join(maildir, 'new', name as string), alreadyDelivered: false, size: result.size });
    expect(name).toMatch(/^1700000000\.Q0123456789abcdef\.R[0-9a-f]{8}\.mx\.example\.org,S=\d+$/);
    expect((await stat(result.file)).mode & 0o777).toBe(0o600);
  });

  it('prepends Return-Path and Delivered-To to the queued bytes, and names the file with its size', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const result = await store.deliver(delivery());
    const content = await readFile(result.file, 'utf8');
    expect(content).toBe(`Return-Path: <bob@example.net>\r\nDelivered-To: alice@example.org\r\n${message}`);
    expect(result.file.endsWith(`,S=${Buffer.byteLength(content)}`)).toBe(true);
    expect(result.size).toBe(Buffer.byteLength(content));
    const bounce = await store.deliver(delivery({ queueId: 'fedcba9876543210', sender: '' }));
    expect(await readFile(bounce.file, 'utf8')).toMatch(/^Return-Path: <>\r\n/);
  });

  it('writes junk into the Maildir++ folder .Junk with its own tmp/ new/ cur/ and a maildirfolder file', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const result = await store.deliver(delivery({ folder: 'Junk' }));
    const maildir = join(root, 'example.org', 'alice');
    expect(await names(maildir)).toEqual(['.Junk', 'cur', 'new', 'tmp']);
    expect(await names(join(maildir, '.Junk'))).toEqual(['cur', 'maildirfolder', 'new', 'tmp']);
    expect((await stat(join(maildir, '.Junk', 'maildirfolder'))).size).toBe(0);
    expect(result.file.startsWith(join(maildir, '.Junk', 'new'))).toBe(true);
    expect(await names(join(maildir, 'new'))).toEqual([]);
  });

  it('escapes the hostname in file names as the Maildir specification says', async () => {
    const store = createMaildirStore({ root, hostname: 'odd/host:name,x' });
    const result = await store.deliver(delivery());
    expect(result.file).toContain('.odd\\057host\\072name\\054x,S=');
  });

  it('names the files of two recipients of one message apart by the recipient hash only', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    await store.deliver(delivery({ recipient: 'alice@example.org' }));
    const aliceNames = await names(join(root, 'example.org', 'alice', 'new'));
    await store.deliver(delivery({ recipient: 'bob@example.org' }));
    const bobNames = await names(join(root, 'example.org', 'bob', 'new'));
    const stable = (name: string | undefined) => name?.replace(/\.R[0-9a-f]{8}/, '').replace(/,S=\d+$/, '');
    expect(stable(aliceNames[0])).toBe(stable(bobNames[0]));
    expect(aliceNames[0]).not.toBe(bobNames[0]);
  });
});

describe('exactly once', () => {
  it('finds an earlier delivery of the same message and recipient in new/ and writes nothing', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const first = await store.deliver(delivery());
    const again = await createMaildirStore({ root, hostname: 'mx.example.org' }).deliver(delivery());
    expect(again).toEqual({ file: first.file, alreadyDelivered: true, size: first.size });
    expect(await names(join(root, 'example.org', 'alice', 'new'))).toHaveLength(1);
  });

  it('finds it after Dovecot moved it to cur/ with :2,S flags', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const first = await store.deliver(delivery({ folder: 'Junk' }));
    const seen = first.file.replace(`${join('.Junk', 'new')}`, join('.Junk', 'cur')).concat(':2,S');
    await rename(first.file, seen);
    const again = await store.deliver(delivery({ folder: 'Junk' }));
    expect(again.alreadyDelivered).toBe(true);
    expect(again.file).toBe(seen);
    const junk = join(root, 'example.org', 'alice', '.Junk');
    expect([...(await names(join(junk, 'new'))), ...(await names(join(junk, 'cur')))]).toHaveLength(1);
  });

  it('does not mistake another recipient or another message for an earlier delivery', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    await store.deliver(delivery());
    expect((await store.deliver(delivery({ queueId: '0123456789abcdee' }))).alreadyDelivered).toBe(false);
    expect(await names(join(root, 'example.org', 'alice', 'new'))).toHaveLength(2);
  });

  it('skips the check when the caller says no earlier attempt can exist (mayExist: false)', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    await store.deliver(delivery());
    const moved = (await names(join(root, 'example.org', 'alice', 'new')))[0] as string;
    await rename(
      join(root, 'example.org', 'alice', 'new', moved),
      join(root, 'example.org', 'alice', 'cur', `${moved}:2,S`),
    );
    expect((await store.deliver(delivery({ mayExist: false }))).alreadyDelivered).toBe(false);
  });
});

/** A file system that records each operation (and can hold the directory fsync back). */
function recordingFileSystem(): MaildirFileSystem & { ops: string[]; holdDirectorySync?: Promise<void> } {
  const fs: MaildirFileSystem & { ops: string[]; holdDirectorySync?: Promise<void> } = {
    ops: [],
    mkdir: (path, mode) => nodeMaildirFileSystem.mkdir(path, mode),
    async create(path) {
      const file = await nodeMaildirFileSystem.create(path);
      const name = path.slice(root.length);
      fs.ops.push(`create ${name}`);
      return {
        write: async (chunk) => {
          fs.ops.push(`write ${name}`);
          await file.write(chunk);
        },
        sync: async () => {
          fs.ops.push(`fsync ${name}`);
          await file.sync();
        },
        close: async () => {
          fs.ops.push(`close ${name}`);
          await file.close();
        },
      };
    },
    async rename(from, to) {
      fs.ops.push(`rename ${from.slice(root.length)} ${to.slice(root.length)}`);
      await nodeMaildirFileSystem.rename(from, to);
    },
    async syncDirectory(path) {
      await fs.holdDirectorySync;
      fs.ops.push(`fsync-dir ${path.slice(root.length)}`);
      await nodeMaildirFileSystem.syncDirectory(path);
    },
    list: (path) => nodeMaildirFileSystem.list(path),
    size: (path) => nodeMaildirFileSystem.size(path),
    unlink: (path) => nodeMaildirFileSystem.unlink(path),
  };
  return fs;
}

describe('durability', () => {
  it('writes in tmp/, fsyncs the file, renames it into new/, fsyncs new/, and only then resolves', async () => {
    const fileSystem = recordingFileSystem();
    const store = createMaildirStore({ root, hostname: 'mx.example.org', fileSystem });
    await store.deliver(delivery({ recipient: 'warm@example.org' })); // creates and syncs the directories
    fileSystem.ops.length = 0;
    let release: () => void = () => undefined;
    fileSystem.holdDirectorySync = new Promise((resolve) => {
      release = resolve;
    });
    let resolved = false;
    const pending = store.deliver(delivery({ mayExist: false, recipient: 'warm@example.org' })).then((r) => {
      resolved = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resolved).toBe(false);
    release();
    const result = await pending;
    const tmp = `/example.org/warm/tmp/${result.file
      .split('/')
      .pop()
      ?.replace(/,S=\d+$/, '')}`;
    expect(fileSystem.ops).toEqual([
      `create ${tmp}`,
      `write ${tmp}`, // the headers and the small body together
      `fsync ${tmp}`,
      `close ${tmp}`,
      `rename ${tmp} ${result.file.slice(root.length)}`,
      'fsync-dir /example.org/warm/new',
    ]);
  });

  it('gathers a big body of small chunks into writes of 64 KiB, the file byte for byte the same', async () => {
    const fileSystem = recordingFileSystem();
    const store = createMaildirStore({ root, hostname: 'mx.example.org', fileSystem });
    const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1024, 97 + (i % 26)));
    const result = await store.deliver(
      delivery({ queueId: 'cccccccccccccccc', mayExist: false, body: chunks, size: undefined }),
    );
    const writes = fileSystem.ops.filter((op) => op.startsWith('write')).length;
    expect(writes).toBe(5); // 300 KiB and the headers, 64 KiB at a time
    const written = await readFile(result.file);
    const headers = written.subarray(0, written.length - 300 * 1024).toString();
    expect(headers).toBe(`Return-Path: <bob@example.net>\r\nDelivered-To: alice@example.org\r\n`);
    expect(written.subarray(headers.length).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('fsyncs new directories up to the root when it creates a Maildir', async () => {
    const fileSystem = recordingFileSystem();
    const store = createMaildirStore({ root, hostname: 'mx.example.org', fileSystem });
    await store.deliver(delivery({ folder: 'Junk' }));
    const dirs = fileSystem.ops.filter((op) => op.startsWith('fsync-dir')).map((op) => op.slice('fsync-dir '.length));
    expect(dirs).toEqual([
      '/example.org/alice/.Junk',
      '/example.org/alice',
      '/example.org',
      '',
      '/example.org/alice/.Junk/new',
    ]);
  });

  it('shares one fsync of new/ among deliveries that arrive together', async () => {
    const fileSystem = recordingFileSystem();
    const store = createMaildirStore({ root, hostname: 'mx.example.org', fileSystem });
    await store.deliver(delivery({ queueId: 'aaaaaaaaaaaaaaaa' }));
    fileSystem.ops.length = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.deliver(delivery({ queueId: `${i}`.padStart(16, 'b'), mayExist: false })),
      ),
    );
    const renames = fileSystem.ops.filter((op) => op.startsWith('rename')).length;
    const syncs = fileSystem.ops.filter((op) => op.startsWith('fsync-dir')).length;
    expect(renames).toBe(20);
    expect(syncs).toBeLessThan(20);
    // Each delivery resolved after an fsync that began after its rename.
    const lastRename = fileSystem.ops.map((op) => op.startsWith('rename')).lastIndexOf(true);
    expect(fileSystem.ops.slice(lastRename).some((op) => op.startsWith('fsync-dir'))).toBe(true);
  });

  it('refuses a body whose size is not the one the queue recorded, leaving no file', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const error = await store.deliver(delivery({ size: message.length + 1 })).catch((e: unknown) => e);
    expect(isLocalDeliveryError(error, 'SIZE_MISMATCH')).toBe(true);
    for (const sub of ['tmp', 'new', 'cur']) expect(await names(join(root, 'example.org', 'alice', sub))).toEqual([]);
  });

  it('leaves nothing in tmp/ or new/ when the body stream fails', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    async function* failing() {
      yield Buffer.from('Subject: half\r\n');
      throw new Error('spool read failed');
    }
    await expect(store.deliver(delivery({ body: failing(), size: undefined }))).rejects.toThrow('spool read failed');
    for (const sub of ['tmp', 'new']) expect(await names(join(root, 'example.org', 'alice', sub))).toEqual([]);
  });
});

describe('unsafe local parts', () => {
  it('maps unsafe characters reversibly and never leaves the domain directory', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const cases: [string, string][] = [
      ['..', '%2E.'],
      ['.', '%2E'],
      ['.hidden', '%2Ehidden'],
      ['../../etc', '%2E.%2F..%2Fetc'],
      ['a/b', 'a%2Fb'],
      ['a\\b', 'a%5Cb'],
      ['100%', '100%25'],
      ['tab\tx', 'tab%09x'],
      ['dots.in.middle', 'dots.in.middle'],
      ["o'hara+tag=x", "o'hara+tag=x"],
      ['jörg', 'jörg'],
    ];
    for (const [local, directory] of cases) {
      expect(directoryName(local), local).toBe(directory);
      expect(decodeURIComponent(directory), local).toBe(local);
      expect(store.maildirOf(`"${local.replace(/[\\"]/g, '\\$&')}"@example.org`)).toBe(
        join(root, 'example.org', directory),
      );
    }
    await store.deliver(delivery({ recipient: '../../etc@example.org' }));
    expect(await names(root)).toEqual(['example.org']);
    expect(await names(join(root, 'example.org'))).toEqual(['%2E.%2F..%2Fetc']);
  });

  it('refuses an empty local part, an address without a domain, and a queue id that is not a name', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    for (const recipient of ['""@example.org', 'postmaster', 'alice@']) {
      const error = await store.deliver(delivery({ recipient })).catch((e: unknown) => e);
      expect(isLocalDeliveryError(error, 'INVALID_ADDRESS'), recipient).toBe(true);
    }
    const error = await store.deliver(delivery({ queueId: '../x' })).catch((e: unknown) => e);
    expect(isLocalDeliveryError(error, 'INVALID_ADDRESS')).toBe(true);
    expect(await names(root)).toEqual([]);
  });
});

describe('odd situations', () => {
  it('makes a Maildir again when it was removed while the store runs', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    await store.deliver(delivery({ queueId: '1111111111111111' }));
    await rm(join(root, 'example.org', 'alice'), { recursive: true });
    const again = await store.deliver(delivery({ queueId: '2222222222222222' }));
    expect(again.alreadyDelivered).toBe(false);
    expect(await names(join(root, 'example.org', 'alice', 'new'))).toHaveLength(1);
  });

  it('refuses a sender or recipient that would forge a header', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    for (const bad of [{ sender: 'a@b\r\nX-Evil: 1' }, { recipient: 'alice@example.org\nX-Evil: 1' }]) {
      const error = await store.deliver(delivery(bad)).catch((e: unknown) => e);
      expect(isLocalDeliveryError(error, 'INVALID_ADDRESS')).toBe(true);
    }
    expect(await names(root)).toEqual([]);
  });
});

describe('usage', () => {
  it('sums the S= sizes of new/ and cur/ of the inbox and every folder, and stats files without one', async () => {
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const a = await store.deliver(delivery({ queueId: '1111111111111111' }));
    const b = await store.deliver(delivery({ queueId: '2222222222222222', folder: 'Junk' }));
    const maildir = join(root, 'example.org', 'alice');
    await rename(a.file, join(maildir, 'cur', `${a.file.split('/').pop()}:2,S`));
    await writeFile(join(maildir, 'cur', '1700000000.M1P2.other'), 'x'.repeat(123));
    await writeFile(join(maildir, 'tmp', 'ignored'), 'x'.repeat(1000));
    expect(await store.usage('alice@example.org')).toBe(a.size + b.size + 123);
    expect(await store.usage('nobody@example.org')).toBe(0);
  });

  it('keeps its figure for usageCacheMs and adds each delivery to it', async () => {
    let now = 0;
    const store = createMaildirStore({
      root,
      hostname: 'mx.example.org',
      clock: { now: () => now },
      usageCacheMs: 1000,
    });
    const a = await store.deliver(delivery({ queueId: '1111111111111111' }));
    expect(await store.usage('alice@example.org')).toBe(a.size);
    const b = await store.deliver(delivery({ queueId: '2222222222222222' }));
    await writeFile(join(root, 'example.org', 'alice', 'cur', 'x,S=500'), '');
    expect(await store.usage('alice@example.org')).toBe(a.size + b.size);
    now = 1000;
    expect(await store.usage('alice@example.org')).toBe(a.size + b.size + 500);
  });
});
