import type { Claim, Queue, RecipientInfo, SettleResult } from '@homing/queue';
import type { Reply } from '@homing/smtp';
import { type BounceRecipient, createBounce, createDelayWarning, DEFAULT_MAX_RETURN_BYTES } from './bounce';
import type { DeliveryAgent, RecipientDsn } from './delivery-agent';
import { relayedRecipients, wants, withRequest } from './internal/dsn-requests';
import { type LeaseKeeper, leaseKeeper } from './internal/lease-keeper';
import { settleKept } from './internal/settle-kept';
import type { Logger } from './logger';
import type { RecipientOutcome } from './recipient-outcome';
import { createSuccessReport } from './success-report';

/** Options of `runDeliveryWorker` and `processClaim`. */
export interface DeliveryWorkerOptions {
  /** Any backend of `@homing/queue`'s `Queue` interface. */
  queue: Queue;
  agent: DeliveryAgent;
  /** Our host name, for the DSNs (their Reporting-MTA and MAILER-DAEMON address). */
  hostname: string;
  /** Claims delivered at once. Default 20. */
  concurrency?: number;
  /**
   * Claims of one destination domain delivered at once; more claims of it wait without taking a
   * slot, so a slow domain cannot hold every slot. Default half of `concurrency` (at least 1).
   * A claim whose SMTP transactions are over gives its domain's place back while its settle
   * commits (it keeps its slot in `concurrency` until then).
   */
  maxClaimsPerDomain?: number;
  /** Wait between polls of an empty queue. Default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * The lease asked for each claim. With a queue that has `renewLease`, the queue's default lease,
   * renewed every third of it while the claim is worked on; without, 1 hour, longer than the SMTP
   * client's default timeouts chained for one host (see the README).
   */
  leaseMs?: number;
  /** Stops the worker; claims in flight finish first. */
  signal?: AbortSignal;
  /** The clock for the DSNs' dates: milliseconds since the epoch, default `Date.now`. */
  now?: () => number;
  logger?: Logger;
  /**
   * The sender's DSN requests for a claim (RFC 3461, kept with the message when it was accepted):
   * `envelopeId` (ENVID) goes into the reports, and per recipient `notify` (NOTIFY: a failure is
   * reported only with `FAILURE` in it, a delay only with `DELAY`, a delivery to a next hop that does
   * not offer DSN ("relayed", RFC 3461 6.2.1 b) only with `SUCCESS`; `NEVER` reports nothing) and
   * `originalRecipient` (ORCPT, with its `originalRecipientType`). Without it every failure and the
   * queue's delay warning are reported, and no success.
   * All of them, with `ret` (RET), also go on to the next hop when it offers DSN (RFC 3461 5.2).
   */
  reportOptions?: (claim: Claim) => DsnRequest | undefined;
  /**
   * The largest message a failure report returns whole when the sender asked RET=FULL; a larger
   * one gets its headers and a note (see `createBounce`). Default 1 MiB.
   */
  maxReturnBytes?: number;
}

/** The DSN parameters of one message (RFC 3461 4.1, 4.2, 4.4). */
export interface DsnRequest {
  envelopeId?: string;
  /** RET (RFC 3461 4.3): whether a report returns the full message or its headers. */
  ret?: 'FULL' | 'HDRS';
  recipients?: Record<string, RecipientDsn>;
}

// RFC 3464 2.1.1's text/rfc822-headers part needs the header section only: read no more than this.
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * A queued message for a report that returns it whole: all of it, or, once it is past `limit`
 * octets, as far as its header section ends (the report then falls back to the headers).
 */
async function readUpTo(queue: Queue, id: string, limit: number): Promise<Buffer> {
  const stream = await queue.openBody(id);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(bytes);
      size += bytes.length;
      if (size < limit) continue;
      const seen = Buffer.concat(chunks);
      if (size > MAX_HEADER_BYTES || seen.includes('\r\n\r\n') || seen.includes('\n\n')) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** The header section of a queued message (up to MAX_HEADER_BYTES), read from its stream and nothing after. */
async function readHeaders(queue: Queue, id: string): Promise<Buffer> {
  const stream = await queue.openBody(id);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(bytes);
      size += bytes.length;
      const seen = Buffer.concat(chunks);
      if (size > MAX_HEADER_BYTES || seen.includes('\r\n\r\n') || seen.includes('\n\n')) break;
    }
  } finally {
    stream.destroy();
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
    ...(outcome?.remoteReply !== undefined
      ? { reply: outcome.remoteReply }
      : outcome === undefined && recordedReply(info.reply) !== undefined
        ? { reply: recordedReply(info.reply)! }
        : { diagnostic: outcome?.reason ?? info.reply ?? status }),
  };
}

/** A remote reply the queue recorded as one line (`451 4.3.0 Busy`), parsed back for a DSN's Diagnostic-Code. */
function recordedReply(line: string | undefined): Reply | undefined {
  const match = line === undefined ? null : /^([2-5]\d\d)(?: ([245]\.\d{1,3}\.\d{1,3}))?(?: (.*))?$/.exec(line);
  if (match === null) return undefined;
  return { code: Number(match[1]), enhanced: match[2], lines: [match[3] ?? ''] };
}

/**
 * Works one claim: delivers the body streamed from the queue (`openBody`, opened per transaction)
 * to the claimed recipients while keeping the lease (see `leaseMs`), settles every outcome, then
 * queues a DSN (from the null sender) for the recipients the settle says failed (expired ones
 * included) and a delay warning when the queue asks for one.
 */
export function processClaim(options: DeliveryWorkerOptions, claim: Claim): Promise<SettleResult> {
  return workClaim(options, claim, () => {});
}

/** processClaim, calling `delivered` once the SMTP transactions are over, before the settle commits. */
async function workClaim(options: DeliveryWorkerOptions, claim: Claim, delivered: () => void): Promise<SettleResult> {
  const { queue, agent } = options;
  // The lease's length as handed out: how long a settle is tried again while the storage is away.
  const leaseMs = Math.max(1000, claim.leaseUntil - Date.now());
  const lease = leaseKeeper(queue, claim, options.logger);
  let settled: SettleResult;
  let byAddress = new Map<string, RecipientOutcome>();
  let headers: Buffer | undefined;
  const now = new Date((options.now ?? Date.now)());
  const wantsReport = claim.sender !== '';
  const request = options.reportOptions?.(claim);
  const envelopeId = request?.envelopeId === undefined ? {} : { envelopeId: request.envelopeId };
  const maxReturnBytes = options.maxReturnBytes ?? DEFAULT_MAX_RETURN_BYTES;
  try {
    // A claim past the queue's lifetime (held, or never tried in time) is not delivered: its
    // recipients fail with 5.4.7 and are bounced in the same settle.
    // What the queue keeps (recipient, status, reply), and the session that carried it, for whoever
    // watches the settles (a sender's self-test).
    const outcomes: Pick<RecipientOutcome, 'recipient' | 'status' | 'reply' | 'session'>[] = [];
    // What the queue last recorded per recipient: an expired recipient's bounce quotes its last attempt.
    let last = new Map<string, RecipientInfo>();
    if (claim.expired) {
      const info = await queue.inspect(claim.id);
      last = new Map((info?.recipients ?? []).map((recipient) => [recipient.address, recipient]));
      for (const { address } of claim.recipients) {
        outcomes.push({ recipient: address, status: 'failed', reply: '550 5.4.7 delivery time expired' });
      }
    } else {
      const signal = options.signal === undefined ? lease.signal : AbortSignal.any([options.signal, lease.signal]);
      const result = await agent.deliver(
        {
          from: claim.sender,
          to: claim.recipients.map((recipient) => recipient.address),
          ...envelopeId,
          ...(request?.ret === undefined ? {} : { ret: request.ret }),
          ...(request?.recipients === undefined ? {} : { recipientDsn: request.recipients }),
        },
        { open: () => queue.openBody(claim.id), size: claim.size },
        { signal },
      );
      byAddress = new Map(result.recipients.map((outcome) => [outcome.recipient, outcome]));
      for (const { recipient, status, reply, session } of result.recipients) {
        outcomes.push({ recipient, status, reply, ...(session === undefined ? {} : { session }) });
      }
    }
    delivered();
    const relayed = wantsReport ? relayedRecipients(outcomes, byAddress, request) : [];
    // A settle that completes the message removes its body: keep the headers a DSN may need first.
    if ((outcomes.some((outcome) => outcome.status !== 'delivered') || relayed.length > 0) && wantsReport) {
      // Settling what was delivered matters more than quoting headers: a read failure only loses the quote.
      // RET=FULL: one octet past the bound is enough to know the message is too big to return.
      const reading =
        request?.ret === 'FULL' ? readUpTo(queue, claim.id, maxReturnBytes + 1) : readHeaders(queue, claim.id);
      headers = await reading.catch((error: unknown) => {
        options.logger?.warn({ id: claim.id, err: error }, 'could not read the headers for a DSN');
        return Buffer.alloc(0);
      });
    }
    // The bounce goes into the queue in the same durable step as the failures it reports, so a
    // crash between the two can neither lose it nor send it twice.
    const failed = outcomes.filter(
      (outcome) => outcome.status === 'failed' && wants(request, outcome.recipient, 'FAILURE'),
    );
    const bounce =
      wantsReport && headers !== undefined && failed.length > 0
        ? createBounce({
            reportingMta: options.hostname,
            sender: claim.sender,
            ...envelopeId,
            recipients: failed.map((outcome) =>
              withRequest(
                reportedRecipient(
                  {
                    ...last.get(outcome.recipient),
                    address: outcome.recipient,
                    expired: claim.expired,
                    reply: last.get(outcome.recipient)?.reply ?? outcome.reply,
                  } as RecipientInfo,
                  byAddress.get(outcome.recipient),
                  'failed',
                  now,
                ),
                request,
              ),
            ),
            originalMessage: headers,
            ...(request?.ret === undefined ? {} : { ret: request.ret }),
            maxReturnBytes,
            arrivalDate: new Date(claim.createdAt),
            date: now,
          })
        : null;
    // The success report ("relayed") goes in the same settle too: exactly once, like the bounce.
    const success =
      wantsReport && headers !== undefined && relayed.length > 0
        ? createSuccessReport({
            reportingMta: options.hostname,
            sender: claim.sender,
            ...envelopeId,
            recipients: relayed,
            originalMessage: headers,
            arrivalDate: new Date(claim.createdAt),
            date: now,
          })
        : null;
    const reports = [bounce, success].filter((report) => report !== null);
    settled = await settleKept(queue, claim, { leaseMs, signal: options.signal, logger: options.logger }, outcomes, {
      enqueue: reports.map((report) => ({
        envelope: { sender: report.sender, recipients: report.recipients },
        body: report.message,
      })),
    });
    if (bounce !== null)
      options.logger?.info({ id: claim.id, action: 'failed', recipients: failed.length }, 'queued a DSN');
    if (success !== null)
      options.logger?.info({ id: claim.id, action: 'relayed', recipients: relayed.length }, 'queued a DSN');
  } finally {
    lease.stop();
  }
  // The delay warning is the queue's decision, known only after the settle.
  const delayed = settled.delayWarning.filter((info) => wants(request, info.address, 'DELAY'));
  if (delayed.length > 0 && wantsReport && headers !== undefined) {
    const dsn = createDelayWarning({
      reportingMta: options.hostname,
      sender: claim.sender,
      ...envelopeId,
      recipients: delayed.map((info) =>
        withRequest(reportedRecipient(info, byAddress.get(info.address), 'delayed', now), request),
      ),
      originalMessage: headers,
      arrivalDate: new Date(claim.createdAt),
      date: now,
    });
    if (dsn !== null) {
      await queue.enqueue({ sender: dsn.sender, recipients: dsn.recipients }, dsn.message);
      options.logger?.info({ id: claim.id, action: 'delayed', recipients: delayed.length }, 'queued a DSN');
    }
  }
  return settled;
}

/** Resolves after `ms`, or at once when `signal` aborts or `wake` is called. */
function pause(ms: number, signal: AbortSignal | undefined, wakers: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      wakers.delete(done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
    wakers.add(done);
  });
}

/**
 * Drives a queue until `signal` aborts: claim due work, deliver it, settle it, bounce what failed.
 * Claiming is continuous: whenever a slot is free the worker claims more, so a slow destination
 * holds only its own slots (at most `maxClaimsPerDomain`) while the others go on. A claim that
 * throws (storage trouble, a lost lease) is logged and left to its lease: the queue hands it out
 * again later. Resolves once the claims in flight are done.
 */
export async function runDeliveryWorker(options: DeliveryWorkerOptions): Promise<void> {
  const concurrency = options.concurrency ?? 20;
  const perDomain = options.maxClaimsPerDomain ?? Math.max(1, Math.ceil(concurrency / 2));
  const poll = options.pollIntervalMs ?? 1000;
  const renews = typeof (options.queue as { renewLease?: unknown }).renewLease === 'function';
  const leaseMs = options.leaseMs ?? (renews ? undefined : 3_600_000);
  const running = new Set<Promise<void>>();
  const activeByDomain = new Map<string, number>();
  // Claimed but waiting for their domain to have a free place; they keep their lease meanwhile.
  const waiting: Claim[] = [];
  const wakers = new Set<() => void>();
  // Set by a wake that came while the loop was not paused (during a claim): it looks again first.
  let woken = false;
  const wake = () => {
    woken = true;
    for (const done of [...wakers]) done();
  };

  const start = (claim: Claim) => {
    activeByDomain.set(claim.domain, (activeByDomain.get(claim.domain) ?? 0) + 1);
    // The domain's place is for talking to it: it is given back once the transactions are over, so
    // the next claim of the domain is delivered while this one's settle waits for its fsync (the
    // claim keeps its place in `concurrency`, and its lease, until the settle is durable).
    let placeHeld = true;
    const releasePlace = () => {
      if (!placeHeld) return;
      placeHeld = false;
      const left = (activeByDomain.get(claim.domain) ?? 1) - 1;
      if (left === 0) activeByDomain.delete(claim.domain);
      else activeByDomain.set(claim.domain, left);
      wake();
    };
    const work = workClaim(options, claim, releasePlace)
      .then(
        () => undefined,
        (error: unknown) => {
          options.logger?.warn({ id: claim.id, err: error }, 'claim not settled; it will be retried after its lease');
        },
      )
      .finally(() => {
        releasePlace();
        running.delete(work);
        wake();
      });
    running.add(work);
  };
  const holding = new Map<Claim, LeaseKeeper>();
  const startWaiting = (all = false) => {
    for (let index = 0; index < waiting.length && (all || running.size < concurrency); ) {
      const claim = waiting[index]!;
      if (all || (activeByDomain.get(claim.domain) ?? 0) < perDomain) {
        waiting.splice(index, 1);
        holding.get(claim)?.stop();
        holding.delete(claim);
        start(claim);
      } else index += 1;
    }
  };

  while (options.signal?.aborted !== true) {
    woken = false;
    startWaiting();
    let claimed = 0;
    const room = concurrency - running.size;
    if (room > 0 && waiting.length < concurrency) {
      try {
        const claims = await options.queue.claim({ limit: room, ...(leaseMs === undefined ? {} : { leaseMs }) });
        claimed = claims.length;
        for (const claim of claims) {
          if (running.size < concurrency && (activeByDomain.get(claim.domain) ?? 0) < perDomain) start(claim);
          else {
            waiting.push(claim);
            holding.set(claim, leaseKeeper(options.queue, claim, options.logger));
          }
        }
      } catch (error) {
        options.logger?.warn({ err: error }, 'claim failed');
      }
    }
    // Claim again at once while there was work and room; otherwise wait for a slot or the poll.
    if (claimed > 0 && running.size < concurrency) continue;
    if (woken) continue;
    await pause(poll, options.signal, wakers);
  }
  // Claims still waiting are settled now, not left leased: with the signal aborted they end deferred at once.
  startWaiting(true);
  await Promise.all(running);
}
