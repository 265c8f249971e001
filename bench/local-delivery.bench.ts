// The local delivery worker of `homing start` alone: messages per second from a real
// @homing/queue file spool into Maildir files (write in tmp/, fsync, rename into new/, fsync of
// new/, then the settle's journal fsync), 10 KiB messages to 100 mailboxes, beside the raw rate
// of that same file dance done one at a time on the same disk.
//   fresh:   the worker runs while the messages are enqueued (kick() after each enqueue), as in
//            the server; the clock runs from the first enqueue to the last settle.
//   backlog: the messages were queued before the worker started (a restart): each delivery first
//            lists new/ and cur/ of its Maildir, the exactly-once check.
//   Postfix: the same backlog in Postfix 3.7's queue (accepted on hold from smtp-source, then
//            `postsuper -H ALL` + flush), delivered by its local(8) to the Maildirs of the same 100
//            mailboxes, Postfix's defaults otherwise; the clock runs from the release to the last file.
// LOCAL_DELIVERY_MESSAGES (default 20000) sets the count; LOCAL_DELIVERY_CONCURRENCY (default
// "8,32,128") the worker concurrencies measured. The Postfix row (LOCAL_DELIVERY_POSTFIX=0: left out) needs root and
// `bash .ci/install-peers.sh`; without them it is left out with the reason.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileQueue } from '@homing/queue';
import { startPostfix } from '@homing/test-peers';
import { startLocalDeliveryWorker } from '../apps/mta/src/server/local-delivery/local-delivery-worker';
import { createMaildirStore } from '../apps/mta/src/server/local-delivery/maildir';
import {
  type MaildirFileSystem,
  nodeMaildirFileSystem,
} from '../apps/mta/src/server/local-delivery/maildir-file-system';
import type { EventLog, Metrics } from '../apps/mta/src/server/observability/observability-types';
import { smtpSource } from './lib/mta';

const MESSAGES = Number(process.env.LOCAL_DELIVERY_MESSAGES ?? 20_000);
const CONCURRENCIES = (process.env.LOCAL_DELIVERY_CONCURRENCY ?? '8,32,128').split(',').map(Number);
const MAILBOXES = 100;
const here = fileURLToPath(new URL('.', import.meta.url));
await mkdir(join(here, '..', '.cache'), { recursive: true });
// Under the repository (not a tmpfs): the figures are about a real disk.
const root = await mkdtemp(join(here, '..', '.cache', 'local-delivery-bench-'));
const message = Buffer.concat([
  Buffer.from('Received: from client.example.net by mx.example.org\r\nSubject: bench\r\n\r\n'),
  Buffer.from(randomBytes(7_600).toString('base64').replace(/.{76}/g, '$&\r\n')),
]).subarray(0, 10 * 1024);

let delivered = 0;
let otherResults = 0;
const log: EventLog = {
  event: (_id, _subsystem, event, fields) => {
    if (event !== 'local') return;
    if (fields?.result === 'ok') delivered += 1;
    else otherResults += 1;
  },
  libraryLogger: () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
    return logger;
  },
  newId: () => randomBytes(8).toString('hex'),
  runId: '0000000000000000',
};
const metrics = { localDelivery() {} } as unknown as Metrics;
const recipient = (i: number) => `user${i % MAILBOXES}@example.org`;

/** One at a time: write 10 KiB in tmp/, fsync, rename into new/, fsync new/ (one Maildir delivery, bare). */
async function rawRate(count: number): Promise<number> {
  const maildir = join(root, 'raw');
  for (const sub of ['tmp', 'new']) await mkdir(join(maildir, sub), { recursive: true });
  const started = performance.now();
  for (let i = 0; i < count; i += 1) {
    const temporary = join(maildir, 'tmp', String(i));
    const file = await open(temporary, 'w');
    await file.write(message);
    await file.sync();
    await file.close();
    await rename(temporary, join(maildir, 'new', String(i)));
    const directory = await open(join(maildir, 'new'), 'r');
    await directory.sync();
    await directory.close();
  }
  return count / ((performance.now() - started) / 1000);
}

async function enqueueAll(queue: Awaited<ReturnType<typeof openFileQueue>>, onQueued: () => void): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < MESSAGES) {
        const i = next++;
        await queue.enqueue({ sender: 'bench@example.net', recipients: [recipient(i)] }, message);
        onQueued();
      }
    }),
  );
}

async function waitDrained(queue: Awaited<ReturnType<typeof openFileQueue>>): Promise<void> {
  while (delivered + otherResults < MESSAGES || (await queue.list({ limit: 1 })).length > 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function run(mode: 'fresh' | 'backlog', concurrency: number, fileSystem?: MaildirFileSystem) {
  const dir = await mkdtemp(join(root, `${mode}-${concurrency}-`));
  let queue = await openFileQueue({ spool: join(dir, 'spool') });
  const store = createMaildirStore({ root: join(dir, 'mail'), hostname: 'mx.example.org', fileSystem });
  delivered = 0;
  otherResults = 0;
  const options = { queue, domains: ['example.org'], store, log, metrics, concurrency };
  let seconds: number;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  if (mode === 'fresh') {
    const worker = startLocalDeliveryWorker(options);
    const started = performance.now();
    await enqueueAll(queue, () => worker.kick());
    await waitDrained(queue);
    seconds = (performance.now() - started) / 1000;
    await worker.stop();
  } else {
    await enqueueAll(queue, () => undefined);
    // A restart: the spool is reopened, after the fill's dirty pages are flushed (sync(1)), so the
    // deliveries do not pay for the fill's writeback.
    await queue.close();
    spawnSync('sync');
    queue = await openFileQueue({ spool: join(dir, 'spool') });
    const started = performance.now();
    const worker = startLocalDeliveryWorker({ ...options, queue });
    await waitDrained(queue);
    seconds = (performance.now() - started) / 1000;
    await worker.stop();
  }
  clearInterval(sampler);
  await queue.close();
  await rm(dir, { recursive: true, force: true });
  if (otherResults > 0) throw new Error(`${otherResults} deliveries did not succeed`);
  return { rate: MESSAGES / seconds, peakRss };
}

/** Postfix's queue to its local(8) Maildirs: the rate, or why it was not measured. */
async function postfixBacklogRate(): Promise<{ rate: number } | { skipped: string }> {
  if (process.env.LOCAL_DELIVERY_POSTFIX === '0') return { skipped: 'LOCAL_DELIVERY_POSTFIX=0' };
  if (process.getuid?.() !== 0) return { skipped: 'Postfix needs root to start' };
  if (!existsSync(join(here, '..', '.cache/postfix/usr/sbin/smtp-source'))) {
    return { skipped: 'Postfix is not unpacked: run `bash .ci/install-peers.sh`' };
  }
  const dir = await mkdtemp(join(root, 'postfix-'));
  await chmod(root, 0o755);
  await chmod(dir, 0o755);
  const maildirs: Record<string, string> = {};
  for (let u = 0; u < MAILBOXES; u += 1) {
    const path = join(dir, `user${u}`);
    await mkdir(path);
    await chown(path, 1, 1); // local(8) writes as default_privs (daemon)
    maildirs[`user${u}`] = `${path}/`;
  }
  const postfix = await startPostfix({ localDelivery: { domain: 'example.org', maildirs }, hold: '/^/' });
  try {
    let next = 0;
    const perMailbox = MESSAGES / MAILBOXES;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < MAILBOXES) {
          const u = next++;
          await smtpSource(postfix.port, {
            messages: perMailbox,
            sessions: 5,
            size: 10 * 1024,
            reuse: true,
            to: `user${u}@example.org`,
          });
        }
      }),
    );
    while (postfix.held() < MESSAGES) await new Promise((resolve) => setTimeout(resolve, 100));
    spawnSync('sync'); // as for the worker's backlog: the fill's writeback is not counted
    const started = performance.now();
    await postfix.releaseAll();
    const count = async () => {
      let files = 0;
      for (const path of Object.values(maildirs)) files += (await readdir(join(path, 'new')).catch(() => [])).length;
      return files;
    };
    while ((await count()) < MESSAGES) await new Promise((resolve) => setTimeout(resolve, 50));
    return { rate: MESSAGES / ((performance.now() - started) / 1000) };
  } finally {
    await postfix.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const raw = await rawRate(500);
console.log(
  `${MESSAGES} messages of 10 KiB to ${MAILBOXES} mailboxes; every file and directory fsynced, every settle journaled.`,
);
console.log();
console.log('| what | messages/s | x raw (same run) | peak RSS |');
console.log('| --- | ---: | ---: | ---: |');
console.log(`| raw: write + fsync + rename + fsync new/, one at a time | ${Math.round(raw)} | 1.0 | |`);
const backlog = new Map<number, number>();
for (const concurrency of CONCURRENCIES) {
  for (const mode of ['fresh', 'backlog'] as const) {
    const { rate, peakRss } = await run(mode, concurrency);
    if (mode === 'backlog') backlog.set(concurrency, rate);
    const rss = `${(peakRss / 1024 / 1024).toFixed(0)} MiB`;
    console.log(
      `| worker, ${mode}, concurrency ${concurrency} | ${Math.round(rate)} | ${(rate / raw).toFixed(1)} | ${rss} |`,
    );
  }
}
// What the fsync of new/ costs: the same backlog with it left out, as Postfix's local(8) leaves it
// out (a bench-only file system; the store itself always syncs the directory).
const withoutDirectorySync = { ...nodeMaildirFileSystem, syncDirectory: async () => undefined };
const unsynced = await run('backlog', 32, withoutDirectorySync);
console.log(
  `| worker, backlog, concurrency 32, no fsync of new/ (unsafe; as local(8)) | ${Math.round(unsynced.rate)} | ${(unsynced.rate / raw).toFixed(1)} | |`,
);
const postfix = await postfixBacklogRate();
if ('skipped' in postfix) console.log(`\nPostfix row left out: ${postfix.skipped}.`);
else {
  console.log(
    `| Postfix 3.7 local(8), backlog (its defaults) | ${Math.round(postfix.rate)} | ${(postfix.rate / raw).toFixed(1)} | |`,
  );
  console.log();
  for (const [concurrency, rate] of backlog) {
    console.log(`worker backlog at concurrency ${concurrency} / Postfix: ${(rate / postfix.rate).toFixed(2)}x`);
  }
}
await rm(root, { recursive: true, force: true });
