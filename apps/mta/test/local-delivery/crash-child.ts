// The child of crash.test.ts: runs the local delivery worker on a spool until the queue is empty,
// printing one line per delivery; the parent kills it with SIGKILL at random instants.
import { openFileQueue } from '@homing/queue';
import { startLocalDeliveryWorker } from '../../src/server/local-delivery/local-delivery-worker';
import { createMaildirStore } from '../../src/server/local-delivery/maildir';
import { type MaildirFileSystem, nodeMaildirFileSystem } from '../../src/server/local-delivery/maildir-file-system';
import { recordingLog, recordingMetrics } from './helpers';

const [spool, mail] = process.argv.slice(2) as [string, string];
// A slow fsync of new/ (as on a busy disk) widens the window between a delivery's rename and its
// settle, so that the kills of the parent land in it often.
const slowDirectorySync: MaildirFileSystem = {
  ...nodeMaildirFileSystem,
  async syncDirectory(path) {
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 30));
    await nodeMaildirFileSystem.syncDirectory(path);
  },
};
const queue = await openFileQueue({ spool, minimalBackoffMs: 10, maximalBackoffMs: 20 });
const log = recordingLog();
const events = log.events;
events.push = (...items) => {
  for (const item of items) process.stdout.write(`${JSON.stringify(item)}\n`);
  return 0;
};
const worker = startLocalDeliveryWorker({
  queue,
  domains: ['example.org'],
  store: createMaildirStore({ root: mail, hostname: 'mx.example.org', fileSystem: slowDirectorySync }),
  log,
  metrics: recordingMetrics(),
  pollMs: 10,
});
process.stdout.write('ready\n');
while ((await queue.list({ limit: 1 })).length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
await worker.stop();
await queue.close();
process.stdout.write('drained\n');
