import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isQueueError, openFileQueue } from '../src/index';

const envelope = { sender: 'a@b.test', recipients: ['x@y.test', 'z@w.test'] };
let spool = '';
afterEach(async () => {
  if (spool !== '') await rm(spool, { recursive: true, force: true });
});

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Every file under the spool with its size and modification time: what "writes nothing" compares. */
async function tree(directory: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    out.push(`${path.slice(directory.length)} ${entry.isDirectory() ? 'dir' : info.size} ${info.mtimeMs}`);
  }
  return out.sort();
}

describe('a read-only open', () => {
  it('reads a spool a live queue holds, without its lock, and writes nothing', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-ro-'));
    const writer = await openFileQueue({ spool });
    const a = await writer.enqueue(envelope, Buffer.from('body a'));
    const b = await writer.enqueue(envelope, Buffer.from('body b'));
    await writer.hold(b.id);
    const [claim] = await writer.claim({ domain: 'y.test' });
    await writer.settle(claim!.leaseId, [{ recipient: 'x@y.test', status: 'deferred', reply: '451 later' }]);
    const before = await tree(spool);
    const reader = await openFileQueue({ spool, readOnly: true });
    expect(await reader.list()).toEqual(await writer.list());
    expect(await reader.inspect(a.id)).toEqual(await writer.inspect(a.id));
    expect(await text(await reader.openBody(b.id))).toBe('body b');
    expect(reader.recovery).toEqual({ removedTemporary: 0, corrupt: [], messages: 2 });
    const refusals: (() => Promise<unknown>)[] = [
      () => reader.enqueue(envelope, Buffer.from('x')),
      () => reader.claim(),
      () => reader.settle(claim!.leaseId, []),
      () => reader.renewLease(claim!.leaseId, 1000),
      () => reader.hold(a.id),
      () => reader.release(b.id),
      () => reader.remove(a.id),
      () => reader.reschedule(),
    ];
    for (const refuse of refusals) {
      const error = await Promise.resolve()
        .then(refuse)
        .catch((e) => e);
      expect(isQueueError(error, 'READ_ONLY')).toBe(true);
    }
    await reader.close();
    expect(await tree(spool)).toEqual(before);
    // The writer never noticed.
    await writer.remove(a.id);
    await writer.close();
  });

  it('leaves tmp/ and damaged files where they are, reporting the damage', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-ro-'));
    const writer = await openFileQueue({ spool });
    const good = await writer.enqueue(envelope, Buffer.from('good'));
    const [goodBatch] = await readdir(join(spool, 'data'));
    await writer.enqueue(envelope, Buffer.from('bad'));
    await writer.close();
    const badBatch = (await readdir(join(spool, 'data'))).find((name) => name !== goodBatch)!;
    await appendFile(join(spool, 'data', badBatch), 'garbage after the footer');
    await writeFile(join(spool, 'tmp', 'half.batch'), 'never committed');
    const before = await tree(spool);
    const reader = await openFileQueue({ spool, readOnly: true });
    expect(reader.recovery).toEqual({
      removedTemporary: 0,
      corrupt: [{ file: `data/${badBatch}`, reason: 'batch footer missing; left in place (opened read-only)' }],
      messages: 1,
    });
    expect((await reader.list()).map((m) => m.id)).toEqual([good.id]);
    await reader.close();
    expect(await tree(spool)).toEqual(before);
  });

  it('tolerates the torn journal line a live writer is in the middle of appending', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-ro-'));
    const writer = await openFileQueue({ spool });
    const a = await writer.enqueue(envelope, Buffer.from('a'));
    await writer.hold(a.id);
    const [journal] = await readdir(join(spool, 'journal'));
    await appendFile(join(spool, 'journal', journal!), '1234abcd {"id":"half-writ');
    const reader = await openFileQueue({ spool, readOnly: true });
    expect(reader.recovery.corrupt).toEqual([]);
    expect((await reader.inspect(a.id))?.held).toBe(true);
    await reader.close();
    await writer.close();
  });

  it('opens read-only again and again while a live writer compacts its journal many times a second', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-ro-'));
    // A tiny journal limit: nearly every hold or release rotates the journal and deletes the old file.
    const writer = await openFileQueue({ spool, journalBytes: 256 });
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 1) ids.push((await writer.enqueue(envelope, Buffer.from(`m${i}`))).id);
    let writing = true;
    const churn = (async () => {
      for (let i = 0; writing; i += 1) {
        const id = ids[i % ids.length]!;
        await writer.hold(id);
        await writer.release(id);
      }
    })();
    const opened: number[] = [];
    try {
      for (let i = 0; i < 100; i += 1) {
        const reader = await openFileQueue({ spool, readOnly: true });
        expect(reader.recovery.corrupt).toEqual([]);
        expect((await reader.list()).map((m) => m.id)).toEqual(ids);
        opened.push(reader.recovery.messages);
        await reader.close();
      }
    } finally {
      writing = false;
      await churn;
    }
    expect(opened).toEqual(Array.from({ length: 100 }, () => 20));
    await writer.close();
  });

  it('reads a spool never opened for writing as empty, and rejects a missing one', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-ro-'));
    const empty = await openFileQueue({ spool, readOnly: true });
    expect(await empty.list()).toEqual([]);
    await empty.close();
    expect(await readdir(spool)).toEqual([]);
    const missing = await openFileQueue({ spool: join(spool, 'missing'), readOnly: true }).catch((e) => e);
    expect(isQueueError(missing, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect(missing.message).toMatch(/ENOENT/);
  });
});
