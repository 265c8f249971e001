// A host the PostgreSQL crash test kills with SIGKILL; two of them work on one queue at once. Each
// enqueues under load and claims/settles at the same time, bouncing failed recipients in the
// settle itself, and appends one line per fact to its report file (fs.writeSync: in the page
// cache once the call returns, which no SIGKILL of this process can drop):
//   E <time> <id> <sha256> <recipients,...>   an enqueue resolved (acknowledged: must survive)
//   K <time> <id> <address>                   a recipient was handed out by claim
//   P <time> <id> <addresses,...>             the next settle makes these final (the message may vanish)
//   S <time> <id> <address> <status>          a settle resolved with this recipient final (never again);
//                                             `failed` ones must have exactly one bounce queued
// <time> is the wall clock in ms with fractions, to order the facts of the two hosts.
import { createHash, randomBytes } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
import type { Claim, RecipientOutcome } from '../src/index';
import { openPostgresQueue } from '../src/postgres/index';

const [connectionString, schema, reportPath] = process.argv.slice(2);
if (connectionString === undefined || schema === undefined || reportPath === undefined) {
  throw new Error('usage: postgres-crash-child.ts CONNECTION SCHEMA REPORT');
}
const queue = await openPostgresQueue({
  connectionString,
  schema,
  minimalBackoffMs: 20,
  maximalBackoffMs: 200,
  bodyChunkBytes: 16 * 1024,
  poolSize: 10,
});
const report = openSync(reportPath, 'a');
const time = () => (performance.timeOrigin + performance.now()).toFixed(3);
const record = (kind: string, rest: string) => writeSync(report, `${kind} ${time()} ${rest}\n`);
process.stdout.write(`READY ${process.pid} ${queue.recovery.messages}\n`);

// The bounces go to the sender's domain, which this child never claims: they stay for the parent to count.
const sender = 'load@origin.test';
const domains = ['a.test', 'b.test', 'c.test'];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let live = queue.recovery.messages;

async function enqueueLoop(): Promise<never> {
  for (;;) {
    if (live > 400) await sleep(5);
    // Up to 60 KiB: bodies of one chunk and of several (16 KiB chunks) both.
    const body = randomBytes(100 + Math.floor(Math.random() * 60_000));
    const recipients = [...new Set(Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => pick(domains)))].map(
      (domain, index) => `user${index}@${domain}`,
    );
    const prepend = `Received: by postgres-crash-child\r\n`;
    const { id } = await queue.enqueue({ sender, recipients }, body, { prepend });
    const sha = createHash('sha256').update(prepend).update(body).digest('hex');
    live += 1;
    record('E', `${id} ${sha} ${recipients.join(',')}`);
  }
}

async function settle(claim: Claim): Promise<void> {
  for (const r of claim.recipients) record('K', `${claim.id} ${r.address}`);
  const outcomes: RecipientOutcome[] = claim.recipients.map((r) => {
    const roll = Math.random();
    const status = roll < 0.6 ? 'delivered' : roll < 0.75 ? 'failed' : 'deferred';
    return { recipient: r.address, status, reply: `${status} by postgres-crash-child` };
  });
  const finalHere = outcomes.filter((o) => o.status !== 'deferred');
  const failedHere = outcomes.filter((o) => o.status === 'failed').map((o) => o.recipient);
  if (finalHere.length > 0) record('P', `${claim.id} ${finalHere.map((o) => o.recipient).join(',')}`);
  const bounce = {
    envelope: { sender: '', recipients: [sender], attributes: { bounceOf: claim.id, failed: failedHere.join(',') } },
    body: `Subject: Undelivered Mail Returned to Sender\r\n\r\n${failedHere.join('\r\n')}\r\n`,
  };
  const result = await queue.settle(claim.leaseId, outcomes, { enqueue: failedHere.length > 0 ? [bounce] : [] });
  if (result.complete) live -= 1;
  for (const o of finalHere) record('S', `${claim.id} ${o.recipient} ${o.status}`);
}

async function settleLoop(): Promise<never> {
  for (;;) {
    const claims = (
      await Promise.all(domains.map((domain) => queue.claim({ domain, limit: 15, leaseMs: 60_000 })))
    ).flat();
    if (claims.length === 0) await sleep(5);
    await Promise.all(claims.map((claim) => settle(claim)));
  }
}

await Promise.all([...Array.from({ length: 6 }, enqueueLoop), settleLoop()]);
