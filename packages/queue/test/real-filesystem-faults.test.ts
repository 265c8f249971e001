// The same faults as storage-faults.test.ts, on a real filesystem: a 1 MiB tmpfs that fills up
// (ENOSPC from the kernel) and is remounted read-only (EROFS, when the queue opens). Mounting needs root (CAP_SYS_ADMIN);
// where the tests cannot mount, they are skipped with this note, and storage-faults.test.ts still
// covers the same paths with an injected file system. (A directory chmod'ed 0555 does not stop root.)
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQueueError, openFileQueue } from '../src/index';

let mountPoint = '';
let mounted = false;
beforeAll(async () => {
  mountPoint = await mkdtemp(join(tmpdir(), 'homing-queue-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'none', mountPoint], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
});
afterAll(async () => {
  if (mounted) execFileSync('umount', [mountPoint], { stdio: 'ignore' });
  await rm(mountPoint, { recursive: true, force: true });
});

const envelope = { sender: 'a@b.test', recipients: ['x@y.test'] };

describe('real filesystem faults (tmpfs; needs root to mount, skipped otherwise)', () => {
  it('rejects enqueue with 451 4.3.0 on a full disk, refuses to open read-only, and works again after', async (context) => {
    if (!mounted) context.skip('cannot mount a tmpfs here (not root); the injected-fault tests cover the same paths');
    const spool = join(mountPoint, 'spool');
    const queue = await openFileQueue({ spool, inlineBodyBytes: 64 * 1024 });
    const kept = await queue.enqueue(envelope, Buffer.alloc(100 * 1024, 0x6b));
    const big = Buffer.alloc(400 * 1024, 0x62);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => queue.enqueue(envelope, big)));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const { reason } of rejected) {
      expect(isQueueError(reason, 'STORAGE_UNAVAILABLE')).toBe(true);
      expect(reason.message).toMatch(/ENOSPC/);
      expect(reason.reply).toMatchObject({ code: 451, enhanced: '4.3.0' });
    }
    expect(await readdir(join(spool, 'tmp'))).toEqual([]);
    const accepted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
    for (const id of accepted) await queue.remove(id);

    await queue.close();

    // A remount to read-only needs no file open for writing, so it happens while the queue is closed.
    execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
    try {
      const error = await openFileQueue({ spool }).catch((e) => e);
      expect(isQueueError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
      expect(error.message).toMatch(/EROFS/);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
    }
    const writable = await openFileQueue({ spool });
    const after = await writable.enqueue(envelope, Buffer.from('after'));
    await writable.close();
    const reopened = await openFileQueue({ spool });
    expect((await reopened.list()).map((m) => m.id)).toEqual([kept.id, after.id]);
    await reopened.close();
  });
});
