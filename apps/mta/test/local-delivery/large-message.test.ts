import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openFileQueue } from '@homing/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDeliveryWorker } from '../../src/server/local-delivery/local-delivery-worker';
import { createMaildirStore } from '../../src/server/local-delivery/maildir';
import { eventually, names, recordingLog, recordingMetrics, temporaryDirectory } from './helpers';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MIB = 1024 * 1024;
const SIZE = 50 * MIB;

let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  dir = await temporaryDirectory('large-message');
});
afterAll(() => dir.remove());

/** 50 MiB of 64 KiB lines of text, generated as it is read. */
async function* generated(hash: ReturnType<typeof createHash>) {
  const header = Buffer.from('Subject: big\r\n\r\n');
  hash.update(header);
  yield header;
  const line = Buffer.alloc(64 * 1024, 'x');
  line.write('\r\n', line.length - 2);
  let left = SIZE - header.length;
  while (left > 0) {
    const chunk = left >= line.length ? line : line.subarray(0, left);
    hash.update(chunk);
    left -= chunk.length;
    yield chunk;
  }
}

describe('a 50 MiB message', () => {
  it('streams from the spool into the Maildir with flat memory, byte for byte', { timeout: 120_000 }, async () => {
    const queue = await openFileQueue({ spool: join(dir.path, 'spool') });
    const sent = createHash('sha256');
    const { id, size } = await queue.enqueue(
      { sender: 'a@example.com', recipients: ['alice@example.org'] },
      generated(sent),
    );
    expect(size).toBe(SIZE);
    gc();
    const base = process.memoryUsage();
    let peakHeap = 0;
    let peakBuffers = 0;
    // Live memory: collected before each sample, so that garbage awaiting a lazy GC is not counted.
    const sampler = setInterval(() => {
      gc();
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed - base.heapUsed);
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers - base.arrayBuffers);
    }, 10);
    const worker = startLocalDeliveryWorker({
      queue,
      domains: ['example.org'],
      store: createMaildirStore({ root: join(dir.path, 'mail'), hostname: 'mx.example.org' }),
      log: recordingLog(),
      metrics: recordingMetrics(),
    });
    await eventually(async () => (await queue.inspect(id)) === undefined, 100_000);
    clearInterval(sampler);
    await worker.stop();
    await queue.close();
    const newDir = join(dir.path, 'mail', 'example.org', 'alice', 'new');
    const [name] = await names(newDir);
    const stored = createHash('sha256');
    let skip = Buffer.byteLength('Return-Path: <a@example.com>\r\nDelivered-To: alice@example.org\r\n');
    for await (const chunk of createReadStream(join(newDir, name as string))) {
      const bytes = chunk as Buffer;
      stored.update(bytes.subarray(Math.min(skip, bytes.length)));
      skip = Math.max(0, skip - bytes.length);
    }
    expect(stored.digest('hex')).toBe(sent.digest('hex'));
    // A message gathered in memory would take 50 MiB of buffers (or of heap) at once.
    expect(peakBuffers).toBeLessThan(16 * MIB);
    expect(peakHeap).toBeLessThan(16 * MIB);
    console.log(
      `50 MiB delivery: peak heap +${(peakHeap / MIB).toFixed(1)} MiB, buffers +${(peakBuffers / MIB).toFixed(1)} MiB`,
    );
  });
});
