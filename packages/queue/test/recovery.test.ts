import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isQueueError, openFileQueue } from '../src/index';
import { FaultyFileSystem } from './faulty-file-system';

let spool = '';
afterEach(async () => {
  if (spool !== '') await rm(spool, { recursive: true, force: true });
});

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function recordingLogger() {
  const lines: { level: string; object: object; message?: string }[] = [];
  const log = (level: string) => (object: object, message?: string) => lines.push({ level, object, message });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const envelope = { sender: 'a@b.test', recipients: ['x@y.test'] };

describe('recovery on open', () => {
  it('removes half-written temporary files and keeps every committed message', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-recover-'));
    const queue = await openFileQueue({ spool });
    const { id } = await queue.enqueue(envelope, Buffer.from('kept'));
    await queue.close();
    await writeFile(join(spool, 'tmp', 'half.batch'), 'partial bytes of a batch that never committed');
    await writeFile(join(spool, 'tmp', 'big.spill'), 'partial');
    const reopened = await openFileQueue({ spool });
    expect(reopened.recovery).toEqual({ removedTemporary: 2, corrupt: [], messages: 1 });
    expect(await readdir(join(spool, 'tmp'))).toEqual([]);
    expect(await text(await reopened.openBody(id))).toBe('kept');
    await reopened.close();
  });

  it('moves a damaged batch file to corrupt/, reports and logs it, and opens anyway', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-recover-'));
    const queue = await openFileQueue({ spool });
    const good = await queue.enqueue(envelope, Buffer.from('good'));
    const [goodBatch] = await readdir(join(spool, 'data'));
    const bad = await queue.enqueue(envelope, Buffer.from('bad'));
    await queue.close();
    const badBatch = (await readdir(join(spool, 'data'))).find((name) => name !== goodBatch)!;
    await appendFile(join(spool, 'data', badBatch), 'garbage after the footer');
    const logger = recordingLogger();
    const reopened = await openFileQueue({ spool, logger });
    expect(reopened.recovery.corrupt).toEqual([
      { file: `data/${badBatch}`, reason: `batch footer missing; moved to corrupt/${badBatch}` },
    ]);
    expect(await readdir(join(spool, 'corrupt'))).toEqual([badBatch]);
    expect(logger.lines.some((line) => line.level === 'error' && line.message === 'queue batch file damaged')).toBe(
      true,
    );
    expect((await reopened.list()).map((m) => m.id)).toEqual([good.id]);
    expect(await reopened.inspect(bad.id)).toBeUndefined();
    await reopened.enqueue(envelope, Buffer.from('still works'));
    await reopened.close();
  });

  it('ignores a torn last journal line but reports a damaged line in the middle', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-recover-'));
    const queue = await openFileQueue({ spool });
    const a = await queue.enqueue(envelope, Buffer.from('a'));
    const b = await queue.enqueue(envelope, Buffer.from('b'));
    await queue.hold(a.id);
    await queue.close();
    const [journal] = await readdir(join(spool, 'journal'));
    const path = join(spool, 'journal', journal!);
    await appendFile(path, '0badc0de {"id":"torn", "rc');
    const torn = await openFileQueue({ spool });
    expect(torn.recovery.corrupt).toEqual([]);
    expect((await torn.inspect(a.id))?.held).toBe(true);
    await torn.hold(b.id);
    await torn.close();
    const [next] = await readdir(join(spool, 'journal'));
    const lines = (await readFile(join(spool, 'journal', next!), 'utf8')).split('\n');
    // Damage a's hold record (after the snapshot's high-water mark); b's hold on the next line survives.
    const held = lines.findIndex((line) => line.includes(a.id));
    expect(lines[held + 1]).toContain(b.id);
    lines[held] = lines[held]!.replace('"held":1', '"held":0');
    await writeFile(join(spool, 'journal', next!), lines.join('\n'));
    const damaged = await openFileQueue({ spool });
    expect(damaged.recovery.corrupt).toHaveLength(1);
    expect(damaged.recovery.corrupt[0]?.reason).toMatch(
      new RegExp(`journal line ${held + 1} damaged; copied to corrupt/`),
    );
    expect((await readdir(join(spool, 'corrupt'))).length).toBe(1);
    expect((await damaged.inspect(b.id))?.held).toBe(true);
    await damaged.close();
  });

  it('keeps the newest state when a crash left an older journal file beside the snapshot', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-recover-'));
    const queue = await openFileQueue({ spool });
    const a = await queue.enqueue(envelope, Buffer.from('a'));
    await queue.hold(a.id);
    await queue.close();
    const [older] = await readdir(join(spool, 'journal'));
    const olderText = await readFile(join(spool, 'journal', older!), 'utf8'); // ends with a held
    const reopened = await openFileQueue({ spool });
    await reopened.release(a.id); // back to the initial state
    await reopened.close();
    await (await openFileQueue({ spool })).close(); // rotates: a new snapshot, older files deleted
    // As if the crash came after the snapshot was durable but before the older file was deleted.
    await writeFile(join(spool, 'journal', older!), olderText);
    expect((await readdir(join(spool, 'journal'))).length).toBe(2);
    const again = await openFileQueue({ spool });
    expect((await again.inspect(a.id))?.held).toBe(false);
    await again.close();
  });

  it('deletes a batch file once none of its messages is live', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-recover-'));
    const queue = await openFileQueue({ spool });
    await Promise.all([queue.enqueue(envelope, Buffer.from('1')), queue.enqueue(envelope, Buffer.from('2'))]);
    expect(await readdir(join(spool, 'data'))).toHaveLength(1);
    const [first, second] = await queue.claim();
    await queue.settle(first!.leaseId, [{ recipient: 'x@y.test', status: 'delivered' }]);
    expect(await readdir(join(spool, 'data'))).toHaveLength(1);
    await queue.settle(second!.leaseId, [{ recipient: 'x@y.test', status: 'failed', reply: '550 no' }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await readdir(join(spool, 'data'))).toEqual([]);
    await queue.close();
  });

  it('compacts the journal into one snapshot file and keeps the state', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-recover-'));
    const queue = await openFileQueue({ spool, journalBytes: 2048 });
    const ids = [];
    for (let i = 0; i < 20; i += 1) ids.push((await queue.enqueue(envelope, Buffer.from(`m${i}`))).id);
    for (const id of ids) await queue.hold(id);
    for (const id of ids.slice(0, 10)) await queue.remove(id);
    expect((await readdir(join(spool, 'journal'))).length).toBe(1);
    await queue.close();
    const reopened = await openFileQueue({ spool });
    const listed = await reopened.list();
    expect(listed.map((m) => m.id)).toEqual(ids.slice(10));
    expect(listed.every((m) => m.held)).toBe(true);
    await reopened.close();
  });
});

describe('group commit and bodies', () => {
  it('makes 64 concurrent enqueues durable with far fewer fsyncs than messages', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-group-'));
    const fs = new FaultyFileSystem();
    const queue = await openFileQueue({ spool, fileSystem: fs });
    const syncsBefore = fs.calls.sync + fs.calls.syncDirectory;
    const body = Buffer.alloc(10 * 1024, 0x62);
    const results = await Promise.all(Array.from({ length: 64 }, () => queue.enqueue(envelope, body)));
    expect(new Set(results.map((r) => r.id)).size).toBe(64);
    expect(fs.calls.sync + fs.calls.syncDirectory - syncsBefore).toBeLessThanOrEqual(8);
    for (const { id } of results.slice(0, 3)) expect((await text(await queue.openBody(id))).length).toBe(10 * 1024);
    await queue.close();
  });

  it('streams a body bigger than inlineBodyBytes to its own file and reads it back intact', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-group-'));
    const queue = await openFileQueue({ spool, inlineBodyBytes: 1024 });
    async function* big() {
      for (let i = 0; i < 100; i += 1) yield Buffer.from(`${String(i).padStart(1023, '.')}\n`);
    }
    const small = queue.enqueue(envelope, Buffer.from('small'));
    const large = await queue.enqueue(envelope, big(), { prepend: 'X-Test: 1\r\n' });
    expect(large.size).toBe(11 + 100 * 1024);
    const read = await text(await queue.openBody(large.id));
    expect(read.startsWith('X-Test: 1\r\n')).toBe(true);
    expect(read.endsWith(`${'99'.padStart(1023, '.')}\n`)).toBe(true);
    expect(await text(await queue.openBody((await small).id))).toBe('small');
    await queue.close();
  });

  it('rejects with CLOSED an enqueue whose body was still arriving when the queue closed', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-group-'));
    const queue = await openFileQueue({ spool, inlineBodyBytes: 1024 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slow() {
      yield Buffer.alloc(4096);
      await gate;
      yield Buffer.alloc(10);
    }
    const pending = queue.enqueue(envelope, slow()).catch((e) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await queue.close();
    release();
    expect(isQueueError(await pending, 'CLOSED')).toBe(true);
    expect(await readdir(join(spool, 'tmp'))).toEqual([]);
    expect(await readdir(join(spool, 'data'))).toEqual([]);
  });

  it('rejects with BODY_FAILED when the body stream errors, leaving no file behind', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-group-'));
    const queue = await openFileQueue({ spool, inlineBodyBytes: 1024 });
    async function* broken() {
      yield Buffer.alloc(4096);
      throw new Error('client went away');
    }
    const error = await queue.enqueue(envelope, broken()).catch((e) => e);
    expect(isQueueError(error, 'BODY_FAILED')).toBe(true);
    expect(error.cause.message).toBe('client went away');
    expect(await readdir(join(spool, 'tmp'))).toEqual([]);
    expect(await readdir(join(spool, 'data'))).toEqual([]);
    expect(await queue.list()).toEqual([]);
    // A source that fails like a file (a syscall error) is still the body's failure, not the spool's.
    async function* unreadable() {
      yield Buffer.alloc(4096);
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
    }
    const source = await queue.enqueue(envelope, unreadable()).catch((e) => e);
    expect(isQueueError(source, 'BODY_FAILED')).toBe(true);
    expect(await readdir(join(spool, 'tmp'))).toEqual([]);
    await queue.close();
    const closed = await queue.enqueue(envelope, Buffer.from('x')).catch((e) => e);
    expect(isQueueError(closed, 'CLOSED')).toBe(true);
  });
});
