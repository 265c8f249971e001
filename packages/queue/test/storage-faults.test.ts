import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isQueueError, openFileQueue } from '../src/index';
import { FaultyFileSystem, type FaultyOperation } from './faulty-file-system';

let spool = '';
afterEach(async () => {
  if (spool !== '') await rm(spool, { recursive: true, force: true });
});

async function* slowBody(bytes: number): AsyncIterable<Buffer> {
  for (let sent = 0; sent < bytes; sent += 4096) yield Buffer.alloc(Math.min(4096, bytes - sent), 0x61);
}

const faults: [FaultyOperation, string][] = [
  ['write', 'ENOSPC'],
  ['sync', 'EIO'],
  ['open', 'EROFS'],
  ['rename', 'EROFS'],
  ['syncDirectory', 'EIO'],
];

describe('storage faults', () => {
  for (const [operation, code] of faults) {
    it(`rejects enqueue with 451 4.3.0 on a failing ${operation} (${code}), leaves nothing behind, and recovers`, async () => {
      spool = await mkdtemp(join(tmpdir(), 'homing-queue-fault-'));
      const fs = new FaultyFileSystem();
      const queue = await openFileQueue({ spool, fileSystem: fs, inlineBodyBytes: 16 * 1024 });
      const before = await queue.enqueue({ sender: 'a@b.test', recipients: ['x@y.test'] }, Buffer.from('before'));
      const dataBefore = await readdir(join(spool, 'data'));
      fs.fault = { operation, code };
      const attempts = await Promise.allSettled([
        ...Array.from({ length: 8 }, () =>
          queue.enqueue({ sender: 'a@b.test', recipients: ['x@y.test'] }, Buffer.from('lost')),
        ),
        // A big body streams to its own file: the same promise holds for it.
        queue.enqueue({ sender: 'a@b.test', recipients: ['x@y.test'] }, slowBody(64 * 1024)),
      ]);
      for (const attempt of attempts) {
        expect(attempt.status).toBe('rejected');
        const reason = (attempt as PromiseRejectedResult).reason;
        expect(isQueueError(reason, 'STORAGE_UNAVAILABLE')).toBe(true);
        expect(reason.reply).toMatchObject({ code: 451, enhanced: '4.3.0' });
      }
      expect(await readdir(join(spool, 'tmp'))).toEqual([]);
      expect(await readdir(join(spool, 'data'))).toEqual(dataBefore);
      expect((await queue.list()).map((m) => m.id)).toEqual([before.id]);
      fs.fault = undefined;
      const after = await queue.enqueue({ sender: 'a@b.test', recipients: ['x@y.test'] }, slowBody(64 * 1024));
      await queue.close();
      const reopened = await openFileQueue({ spool });
      expect((await reopened.list()).map((m) => m.id)).toEqual([before.id, after.id]);
      expect(reopened.recovery.corrupt).toEqual([]);
      await reopened.close();
    });
  }

  it('rejects a settle whose journal fsync fails, changes nothing, and settles once the fault clears', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-fault-'));
    const fs = new FaultyFileSystem();
    const queue = await openFileQueue({ spool, fileSystem: fs });
    const { id } = await queue.enqueue({ sender: 'a@b.test', recipients: ['x@y.test'] }, Buffer.from('m'));
    const [claim] = await queue.claim();
    fs.fault = { operation: 'sync', code: 'EIO' };
    const error = await queue.settle(claim!.leaseId, [{ recipient: 'x@y.test', status: 'delivered' }]).catch((e) => e);
    expect(isQueueError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((await queue.inspect(id))?.recipients[0]?.state).toBe('pending');
    const held = await queue.hold(id).catch((e) => e);
    expect(isQueueError(held, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((await queue.inspect(id))?.held).toBe(false);
    fs.fault = undefined;
    await queue.settle(claim!.leaseId, [{ recipient: 'x@y.test', status: 'deferred', reply: '451 later' }]);
    await queue.close();
    const reopened = await openFileQueue({ spool });
    expect((await reopened.inspect(id))?.recipients[0]).toMatchObject({ state: 'deferred', reply: '451 later' });
    expect(reopened.recovery.corrupt).toEqual([]);
    await reopened.close();
  });

  it('keeps neither the outcome nor the bounce of a settle whose journal write fails, also after a restart', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-fault-'));
    const fs = new FaultyFileSystem();
    const queue = await openFileQueue({ spool, fileSystem: fs });
    const { id } = await queue.enqueue({ sender: 'a@b.test', recipients: ['x@y.test'] }, Buffer.from('m'));
    const [claim] = await queue.claim();
    const bounce = { envelope: { sender: '', recipients: ['a@b.test'] }, body: 'bounce' };
    // The bounce's batch file is written and fsynced; the journal line that would commit it is not.
    fs.fault = { operation: 'sync', code: 'EIO', path: 'journal' };
    const error = await queue
      .settle(claim!.leaseId, [{ recipient: 'x@y.test', status: 'failed', reply: '550 no' }], { enqueue: [bounce] })
      .catch((e) => e);
    expect(isQueueError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((await readdir(join(spool, 'data'))).length).toBe(2); // the bounce's batch is on disk
    expect((await queue.list()).map((m) => m.id)).toEqual([id]);
    fs.fault = undefined;
    await queue.close();
    const reopened = await openFileQueue({ spool });
    expect((await reopened.list()).map((m) => [m.id, m.recipients[0]?.state])).toEqual([[id, 'pending']]);
    expect(reopened.recovery.corrupt).toEqual([]);
    expect((await readdir(join(spool, 'data'))).length).toBe(1); // the unconfirmed bounce's batch is gone
    // Settled again, the bounce is queued exactly once.
    const [again] = await reopened.claim();
    const result = await reopened.settle(again!.leaseId, [{ recipient: 'x@y.test', status: 'failed' }], {
      enqueue: [bounce],
    });
    await reopened.close();
    const last = await openFileQueue({ spool });
    expect((await last.list()).map((m) => m.id)).toEqual([result.enqueued[0]!.id]);
    await last.close();
  });

  it('rejects opening a spool it cannot create with STORAGE_UNAVAILABLE', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-fault-'));
    const fs = new FaultyFileSystem();
    fs.fault = { operation: 'open', code: 'EROFS' };
    const error = await openFileQueue({ spool, fileSystem: fs }).catch((e) => e);
    expect(isQueueError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect(error.message).toMatch(/EROFS/);
  });
});
