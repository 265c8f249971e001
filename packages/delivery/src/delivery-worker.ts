import type { Claim, Queue, RecipientInfo, SettleResult } from '@homing/queue';
import { type BounceRecipient, createBounce, createDelayWarning } from './bounce';
import type { DeliveryAgent, DeliveryLogger } from './delivery-agent';
import type { RecipientOutcome } from './internal/domain-delivery';
import { formatReplyLine } from './reply-class';

/** Options of `runDeliveryWorker` and `processClaim`. */
export interface DeliveryWorkerOptions {
  /** Any backend of `@homing/queue`'s `Queue` interface. */
  queue: Queue;
  agent: DeliveryAgent;
  /** Our host name, for the DSNs (Reporting-MTA). */
  reportingMta: string;
  /** Claims worked on at once. Default 20. */
  concurrency?: number;
  /** Wait between polls of an empty queue. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Stops the worker; claims in flight finish first. */
  signal?: AbortSignal;
  logger?: DeliveryLogger;
}

async function readBody(queue: Queue, id: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await queue.openBody(id)) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks);
}

function reportedRecipient(
  info: RecipientInfo,
  outcome: RecipientOutcome | undefined,
  action: 'failed' | 'delayed',
  now: Date,
): BounceRecipient {
  // RFC 3463 X.4.7: delivery time expired. Otherwise the status of the last attempt, in the class the action needs.
  let status = info.expired ? '5.4.7' : (outcome?.enhanced ?? '5.0.0');
  if (action === 'failed' && status.startsWith('4')) status = `5${status.slice(1)}`;
  if (action === 'delayed' && status.startsWith('5')) status = `4${status.slice(1)}`;
  return {
    address: info.address,
    action,
    status,
    lastAttemptAt: now,
    ...(outcome?.mx === undefined ? {} : { remoteMta: outcome.mx }),
    ...(outcome?.reply === undefined
      ? { diagnostic: outcome?.reason ?? info.reply ?? status }
      : { reply: outcome.reply }),
  };
}

/**
 * Works one claim: reads the body, delivers to the claimed recipients, settles every outcome,
 * then queues a DSN (from the null sender) for the recipients the settle says failed (expired
 * ones included) and a delay warning when the queue asks for one.
 */
export async function processClaim(options: DeliveryWorkerOptions, claim: Claim): Promise<SettleResult> {
  const { queue, agent } = options;
  const body = await readBody(queue, claim.id);
  const result = await agent.deliver(
    { from: claim.sender, to: claim.recipients.map((recipient) => recipient.address) },
    body,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  const byAddress = new Map(result.recipients.map((outcome) => [outcome.address, outcome]));
  const settled = await queue.settle(
    claim.leaseId,
    result.recipients.map((outcome) => ({
      recipient: outcome.address,
      status: outcome.status,
      reply: outcome.reply === undefined ? outcome.reason : formatReplyLine(outcome.reply),
    })),
  );
  const now = new Date();
  const report = async (infos: RecipientInfo[], action: 'failed' | 'delayed') => {
    if (infos.length === 0) return;
    const make = action === 'failed' ? createBounce : createDelayWarning;
    const dsn = make({
      reportingMta: options.reportingMta,
      sender: claim.sender,
      recipients: infos.map((info) => reportedRecipient(info, byAddress.get(info.address), action, now)),
      originalMessage: body,
      arrivalDate: new Date(claim.createdAt),
      date: now,
    });
    if (dsn === null) return; // a bounce is never bounced (RFC 5321 4.5.5)
    await queue.enqueue({ sender: dsn.sender, recipients: dsn.recipients }, dsn.message);
    options.logger?.info({ id: claim.id, action, recipients: infos.length }, 'queued a DSN');
  };
  await report(settled.failed, 'failed');
  await report(settled.delayWarning, 'delayed');
  return settled;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Drives a queue until `signal` aborts: claim due work, deliver it, settle it, bounce what failed.
 * A claim that throws (storage trouble, a lost lease) is logged and left to its lease: the queue
 * hands it out again later.
 */
export async function runDeliveryWorker(options: DeliveryWorkerOptions): Promise<void> {
  const concurrency = options.concurrency ?? 20;
  const poll = options.pollIntervalMs ?? 1000;
  while (options.signal?.aborted !== true) {
    let claims: Claim[];
    try {
      claims = await options.queue.claim({ limit: concurrency });
    } catch (error) {
      options.logger?.warn({ err: error }, 'claim failed');
      await sleep(poll, options.signal);
      continue;
    }
    if (claims.length === 0) {
      await sleep(poll, options.signal);
      continue;
    }
    await Promise.all(
      claims.map((claim) =>
        processClaim(options, claim).catch((error: unknown) => {
          options.logger?.warn({ id: claim.id, err: error }, 'claim not settled; it will be retried after its lease');
        }),
      ),
    );
  }
}
