// @homing/queue's file backend against the disk it runs on: enqueues per second of 10 KiB
// messages at concurrency 1, 16 and 64 (each enqueue resolves only when fsynced), beside the
// raw rate of one write+fsync at a time on the same filesystem; then claim+settle per second
// with 100,000 messages queued, and the memory that queue takes; then claim + settle that fails
// each message and queues its bounce in the same step.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileQueue } from '@homing/queue';

const ROUND_MS = 600;
const FILL = 100_000;
const here = fileURLToPath(new URL('.', import.meta.url));
// Under the repository (not a tmpfs): the figures are about a real disk.
const root = await mkdtemp(join(here, '..', '.cache', 'queue-bench-'));
const body = randomBytes(10 * 1024);
const envelope = { sender: 'bench@example.org', recipients: ['rcpt@example.net'] };
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

/** Sequential open + write 10 KiB + fsync + close, as one durable write at a time costs. */
async function rawFsyncRate(): Promise<number> {
  const dir = await mkdtemp(join(root, 'raw-'));
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < ROUND_MS) {
    const file = await open(join(dir, String(done)), 'w');
    await file.write(body);
    await file.sync();
    await file.close();
    done += 1;
  }
  return done / ((performance.now() - started) / 1000);
}

async function enqueueRate(concurrency: number): Promise<number> {
  const spool = await mkdtemp(join(root, `spool-${concurrency}-`));
  const queue = await openFileQueue({ spool });
  let done = 0;
  const started = performance.now();
  const lane = async () => {
    while (performance.now() - started < ROUND_MS) {
      await queue.enqueue(envelope, body);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const rate = done / ((performance.now() - started) / 1000);
  await queue.close();
  await rm(spool, { recursive: true, force: true });
  return rate;
}

// The disk is shared with other work and its speed drifts: interleave short slices of every row
// over several rounds, and take the median of each row's rate and of its ratio to the raw rate
// measured in the same round.
const ROUNDS = 5;
const rawLabel = 'raw write 10 KiB + fsync, one at a time';
const samples = new Map<string, { rate: number; ratio: number }[]>();
for (let round = 0; round < ROUNDS; round += 1) {
  const raw = await rawFsyncRate();
  samples.set(rawLabel, [...(samples.get(rawLabel) ?? []), { rate: raw, ratio: 1 }]);
  for (const concurrency of [1, 16, 64]) {
    const label = `enqueue 10 KiB, concurrency ${concurrency}`;
    const rate = await enqueueRate(concurrency);
    samples.set(label, [...(samples.get(label) ?? []), { rate, ratio: rate / raw }]);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
console.log(`| what (medians of ${ROUNDS} interleaved rounds) | per second | x raw fsync (same round) |`);
console.log('| --- | ---: | ---: |');
for (const [what, rows] of samples) {
  const rate = median(rows.map((row) => row.rate));
  console.log(`| ${what} | ${Math.round(rate)} | ${median(rows.map((row) => row.ratio)).toFixed(1)} |`);
}

// A queue of 100,000 messages (1 KiB bodies: claim and settle never read a body).
const spool = await mkdtemp(join(root, 'fill-'));
gc();
const before = process.memoryUsage();
let queue = await openFileQueue({ spool });
const small = randomBytes(1024);
let filled = 0;
const fillStarted = performance.now();
await Promise.all(
  Array.from({ length: 256 }, async () => {
    while (filled < FILL) {
      filled += 1;
      await queue.enqueue(envelope, small);
    }
  }),
);
const fillSeconds = (performance.now() - fillStarted) / 1000;
await queue.close();
const openStarted = performance.now();
queue = await openFileQueue({ spool });
const openSeconds = (performance.now() - openStarted) / 1000;
gc();
const after = process.memoryUsage();

let settled = 0;
const settleStarted = performance.now();
while (performance.now() - settleStarted < 3000) {
  const claims = await queue.claim({ limit: 256 });
  if (claims.length === 0) break; // all 100,000 settled before the time was up
  await Promise.all(
    claims.map((claim) =>
      queue.settle(
        claim.leaseId,
        claim.recipients.map((r) => ({ recipient: r.address, status: 'delivered' as const })),
      ),
    ),
  );
  settled += claims.length;
}
const settleRate = settled / ((performance.now() - settleStarted) / 1000);
await queue.close();

// The same with every recipient failed and its bounce queued by the settle itself (one journal
// line for both), on a fresh queue of 30,000: what a bounce costs when it is atomic with the settle.
const bounceSpool = await mkdtemp(join(root, 'bounce-'));
queue = await openFileQueue({ spool: bounceSpool });
let bounceFilled = 0;
await Promise.all(
  Array.from({ length: 256 }, async () => {
    while (bounceFilled < 30_000) {
      bounceFilled += 1;
      await queue.enqueue(envelope, small);
    }
  }),
);
const bounceBody = Buffer.alloc(1024, 0x62);
let bounced = 0;
const bounceStarted = performance.now();
while (performance.now() - bounceStarted < 3000) {
  // The bounces go to example.org, which this loop does not claim: only the failures are counted.
  const claims = await queue.claim({ limit: 256, domain: 'example.net' });
  if (claims.length === 0) break;
  await Promise.all(
    claims.map((claim) =>
      queue.settle(
        claim.leaseId,
        claim.recipients.map((r) => ({ recipient: r.address, status: 'failed' as const, reply: '550 5.1.1 no' })),
        { enqueue: [{ envelope: { sender: '', recipients: [envelope.sender] }, body: bounceBody }] },
      ),
    ),
  );
  bounced += claims.length;
}
const bounceRate = bounced / ((performance.now() - bounceStarted) / 1000);
await queue.close();

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
console.log();
console.log(`| with ${FILL} messages queued | value |`);
console.log('| --- | ---: |');
console.log(`| fill (enqueue 1 KiB, concurrency 256) | ${Math.round(FILL / fillSeconds)} /s |`);
console.log(`| open + recovery | ${openSeconds.toFixed(2)} s |`);
console.log(`| claim + settle (delivered), 256 in flight | ${Math.round(settleRate)} /s |`);
console.log(
  `| claim + settle (failed, 1 KiB bounce committed with it), 256 in flight, of 30000 | ${Math.round(bounceRate)} /s |`,
);
console.log(`| heap taken by the index | ${mib(after.heapUsed - before.heapUsed)} |`);
console.log(`| RSS taken | ${mib(after.rss - before.rss)} |`);
await rm(root, { recursive: true, force: true });
