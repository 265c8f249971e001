// The process the crash test kills with SIGKILL. It enqueues under load and claims/settles at
// the same time, and prints one line per fact the parent checks after the kill:
//   E <id> <sha256> <recipients,...>   an enqueue resolved (acknowledged: must survive)
//   K <id> <address>                    a recipient was handed out by claim
//   C <id>                              the next settle may complete the message (it may vanish)
//   S <id> <address>                    a settle resolved with this recipient final (never again)
// Lines go to a pipe, which Node writes synchronously on Linux, so a printed line was sent.
import { createHash, randomBytes } from 'node:crypto';
import { type Claim, openFileQueue, type RecipientOutcome } from '../src/index';

const spool = process.argv[2];
if (spool === undefined) throw new Error('usage: crash-child.ts SPOOL');
const queue = await openFileQueue({ spool, minimalBackoffMs: 20, maximalBackoffMs: 200, inlineBodyBytes: 16 * 1024 });
const print = (line: string) => process.stdout.write(`${line}\n`);
print(`READY ${queue.recovery.messages}`);

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
    const { id } = await queue.enqueue({ sender: 'load@example.org', recipients }, body, { prepend });
    const sha = createHash('sha256').update(prepend).update(body).digest('hex');
    live += 1;
    print(`E ${id} ${sha} ${recipients.join(',')}`);
  }
}

async function settle(claim: Claim): Promise<void> {
  for (const r of claim.recipients) print(`K ${claim.id} ${r.address}`);
  const outcomes: RecipientOutcome[] = claim.recipients.map((r) => {
    const roll = Math.random();
    const status = roll < 0.6 ? 'delivered' : roll < 0.7 ? 'failed' : 'deferred';
    return { recipient: r.address, status, reply: `${status} by crash-child` };
  });
  const info = await queue.inspect(claim.id);
  const finalHere = new Set(outcomes.filter((o) => o.status !== 'deferred').map((o) => o.recipient));
  const completes = info?.recipients.every(
    (r) => r.state === 'delivered' || r.state === 'failed' || finalHere.has(r.address),
  );
  if (completes) print(`C ${claim.id}`);
  const result = await queue.settle(claim.leaseId, outcomes);
  if (result.complete) live -= 1;
  for (const address of finalHere) print(`S ${claim.id} ${address}`);
  for (const failed of result.failed) if (!finalHere.has(failed.address)) print(`S ${claim.id} ${failed.address}`);
}

async function settleLoop(): Promise<never> {
  for (;;) {
    const claims = await queue.claim({ limit: 64, leaseMs: 60_000 });
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
