// The process the crash test kills with SIGKILL. It enqueues under load and claims/settles at
// the same time, bouncing failed recipients in the settle itself, and appends one line per
// fact the parent checks after the kill to a report file:
//   E <id> <sha256> <recipients,...>   an enqueue resolved (acknowledged: must survive)
//   K <id> <address>                    a recipient was handed out by claim
//   C <id>                              the next settle may complete the message (it may vanish)
//   S <id> <address> <status>           a settle resolved with this recipient final (never again);
//                                       `failed` ones must have exactly one bounce queued
// Each line is written with fs.writeSync before the next step: a write(2) that returned is in
// the kernel's page cache, which no SIGKILL of this process can drop (a pipe write from Node is
// asynchronous on POSIX and can be). So "C" is on file before its settle starts, and the parent
// never takes a completed message for a lost one. Only "READY" (or "LOCKED", when another child
// won the spool) goes to stdout: the parent starts its kill timer on it.
import { createHash, randomBytes } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
import { type Claim, isQueueError, openFileQueue, type RecipientOutcome } from '../src/index';

const [spool, reportPath] = process.argv.slice(2);
if (spool === undefined || reportPath === undefined) throw new Error('usage: crash-child.ts SPOOL REPORT');
let queue: Awaited<ReturnType<typeof openFileQueue>>;
try {
  queue = await openFileQueue({ spool, minimalBackoffMs: 20, maximalBackoffMs: 200, inlineBodyBytes: 16 * 1024 });
} catch (error) {
  if (!isQueueError(error, 'LOCKED')) throw error;
  process.stdout.write(`LOCKED ${error.message}\n`);
  process.exit(3);
}
const report = openSync(reportPath, 'a');
const record = (line: string) => writeSync(report, `${line}\n`);
process.stdout.write(`READY ${process.pid} ${queue.recovery.messages}\n`);

// The bounces go to the sender's domain, which this child never claims: they stay for the parent to count.
const sender = 'load@origin.test';
const domains = ['a.test', 'b.test', 'c.test'];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

// Keep the queue near a steady size so every round's recovery costs about the same.
let live = queue.recovery.messages;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function enqueueLoop(): Promise<never> {
  for (;;) {
    if (live > 600) await sleep(5);
    const body = randomBytes(100 + Math.floor(Math.random() * 40_000));
    const recipients = [...new Set(Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => pick(domains)))].map(
      (domain, index) => `user${index}@${domain}`,
    );
    const prepend = `Received: by crash-child\r\n`;
    const { id } = await queue.enqueue({ sender, recipients }, body, { prepend });
    const sha = createHash('sha256').update(prepend).update(body).digest('hex');
    live += 1;
    record(`E ${id} ${sha} ${recipients.join(',')}`);
  }
}

async function settle(claim: Claim): Promise<void> {
  for (const r of claim.recipients) record(`K ${claim.id} ${r.address}`);
  const outcomes: RecipientOutcome[] = claim.recipients.map((r) => {
    const roll = Math.random();
    const status = roll < 0.6 ? 'delivered' : roll < 0.75 ? 'failed' : 'deferred';
    return { recipient: r.address, status, reply: `${status} by crash-child` };
  });
  const info = await queue.inspect(claim.id);
  const finalHere = new Map(outcomes.filter((o) => o.status !== 'deferred').map((o) => [o.recipient, o.status]));
  const failedHere = outcomes.filter((o) => o.status === 'failed').map((o) => o.recipient);
  const completes = info?.recipients.every(
    (r) => r.state === 'delivered' || r.state === 'failed' || finalHere.has(r.address),
  );
  if (completes) record(`C ${claim.id}`);
  const bounce = {
    envelope: { sender: '', recipients: [sender], attributes: { bounceOf: claim.id, failed: failedHere.join(',') } },
    body: `Subject: Undelivered Mail Returned to Sender\r\n\r\n${failedHere.join('\r\n')}\r\n`,
  };
  const result = await queue.settle(claim.leaseId, outcomes, { enqueue: failedHere.length > 0 ? [bounce] : [] });
  if (result.complete) live -= 1;
  for (const [address, status] of finalHere) record(`S ${claim.id} ${address} ${status}`);
}

async function settleLoop(): Promise<never> {
  for (;;) {
    const claims = (
      await Promise.all(domains.map((domain) => queue.claim({ domain, limit: 22, leaseMs: 60_000 })))
    ).flat();
    if (claims.length === 0) await sleep(5);
    // Claims of one message are settled one after another, so that "C" (may complete) is exact;
    // different messages are settled concurrently.
    const byMessage = new Map<string, Claim[]>();
    for (const claim of claims) byMessage.set(claim.id, [...(byMessage.get(claim.id) ?? []), claim]);
    await Promise.all(
      [...byMessage.values()].map(async (group) => {
        for (const claim of group) await settle(claim);
      }),
    );
  }
}

await Promise.all([...Array.from({ length: 8 }, enqueueLoop), settleLoop()]);
