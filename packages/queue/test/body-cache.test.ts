import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeSpoolFileSystem, openFileQueue, type SpoolFileSystem } from '../src/index';
import { BodyCache } from '../src/internal/body-cache';

const spools: string[] = [];
afterAll(async () => {
  for (const spool of spools) await rm(spool, { recursive: true, force: true });
});

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** The node file system, counting the body reads that go to a batch file. */
function countingFileSystem(): SpoolFileSystem & { reads: number } {
  const fs = {
    ...nodeSpoolFileSystem,
    reads: 0,
    createReadStream(path: string, range: { start: number; end: number }) {
      fs.reads += 1;
      return nodeSpoolFileSystem.createReadStream(path, range);
    },
  };
  return fs;
}

describe('BodyCache', () => {
  it('drops the oldest bodies first once past its size, and forgets deleted ones', () => {
    const cache = new BodyCache(30_000);
    const body = (fill: string) => Buffer.alloc(10_000, fill);
    cache.put('a', body('a'));
    cache.put('b', body('b'));
    cache.put('c', body('c'));
    expect(cache.get('a')?.[0]).toBe('a'.charCodeAt(0));
    cache.put('d', body('d'));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')?.[0]).toBe('b'.charCodeAt(0));
    cache.delete('b');
    expect(cache.get('b')).toBeUndefined();
    cache.put('e', body('e')); // fits again: b's bytes were given back
    expect(cache.get('c')?.[0]).toBe('c'.charCodeAt(0));
    expect(cache.get('e')?.[0]).toBe('e'.charCodeAt(0));
  });

  it("counts a slice of Node's shared buffer pool as the whole slab it keeps alive", () => {
    const cache = new BodyCache(3 * Buffer.poolSize);
    const slices = Array.from({ length: 4 }, (_, i) => {
      const slab = Buffer.allocUnsafeSlow(Buffer.poolSize);
      return slab.subarray(0, 10 + i);
    });
    for (const [i, slice] of slices.entries()) cache.put(String(i), slice);
    expect(cache.get('0')).toBeUndefined();
    expect(cache.get('3')).toBe(slices[3]);
  });

  it('keeps nothing bigger than itself', () => {
    const cache = new BodyCache(100);
    cache.put('big', Buffer.alloc(101));
    expect(cache.get('big')).toBeUndefined();
  });
});

describe('file queue bodies from memory', () => {
  it('serves a message just queued from memory, the same bytes from its batch file after a restart', async () => {
    const spool = await mkdtemp(join(tmpdir(), 'homing-queue-cache-'));
    spools.push(spool);
    const fileSystem = countingFileSystem();
    const queue = await openFileQueue({ spool, fileSystem });
    const { id } = await queue.enqueue(
      { sender: 'a@example.org', recipients: ['b@example.net'] },
      Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      {
        prepend: 'Received: by test\r\n',
      },
    );
    expect(await text(await queue.openBody(id))).toBe('Received: by test\r\nSubject: x\r\n\r\nbody\r\n');
    expect(fileSystem.reads).toBe(0);
    await queue.close();
    const reopened = await openFileQueue({ spool, fileSystem });
    expect(await text(await reopened.openBody(id))).toBe('Received: by test\r\nSubject: x\r\n\r\nbody\r\n');
    expect(fileSystem.reads).toBe(1);
    await reopened.close();
  });
});
