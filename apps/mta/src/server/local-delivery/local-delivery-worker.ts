// The local delivery worker: claims the due recipients of our domains from the queue, writes each
// to its Maildir (exactly once, see `mayExist` below) and settles them delivered, deferred (the
// queue's retry schedule applies) or failed. Woken by `kick()` after each enqueue, so delivery
// latency is not a poll interval; it also polls for retries that come due.
import type { Claim, FollowUpMessage, Queue, RecipientOutcome } from '@homing/queue';
import { isQueueError } from '@homing/queue';
import type { EventLog, Metrics } from '../observability/observability-types';
import { isLocalDeliveryError } from './local-delivery-error';
import { normaliseDomainName } from './mailbox-address';
import type { MaildirFolder, MaildirStore } from './maildir';
import { createQuotaCheck } from './quota';

/** Options of `startLocalDeliveryWorker`. */
export interface LocalDeliveryWorkerOptions {
  queue: Queue;
  /** Our domains: the worker claims only their recipients (a function: read at each look, for reloads). */
  domains: readonly string[] | (() => readonly string[]);
  store: MaildirStore;
  /** Per-mailbox quota in bytes (or a function giving the current one, for reloads); none if undefined. */
  quota?: number | (() => number | undefined);
  log: EventLog;
  metrics: Metrics;
  /** Claims (messages) delivered at once; the recipients of one claim are written in parallel (32). */
  concurrency?: number;
  /** How often to look for retries that came due, ms (1000). */
  pollMs?: number;
  /** Lease of each claim, ms (default: the queue's); renewed at half-time while the claim is delivered. */
  leaseMs?: number;
  /**
   * The bounces of the recipients a claim fails (expired, or a mailbox that cannot exist), queued
   * by the queue in the same durable step as the failure (`settle`'s `enqueue`). Without it they
   * fail without a bounce (bounces are the outbound side's work).
   */
  bounces?: (claim: Claim, failed: readonly RecipientOutcome[]) => FollowUpMessage[] | Promise<FollowUpMessage[]>;
  /**
   * The success reports of a claim: of the recipients it delivered (NOTIFY=SUCCESS, RFC 3461
   * 6.2.1 a), and whatever else the app reports at a settle (an alias expansion); called at every
   * settle, queued in the same durable step as the outcomes, like `bounces`.
   */
  successes?: (claim: Claim, delivered: readonly RecipientOutcome[]) => FollowUpMessage[] | Promise<FollowUpMessage[]>;
}

/** The running worker. */
export interface LocalDeliveryWorker {
  /** Looks for work now (call after each enqueue). */
  kick(): void;
  /** Stops claiming and resolves once the deliveries in flight are written and settled. */
  stop(): Promise<void>;
}

/** The replies recorded in the queue for each outcome. */
export const localDeliveryReplies = {
  delivered: '250 2.0.0 delivered to maildir',
  alreadyDelivered: '250 2.0.0 delivered to maildir (by an earlier attempt)',
  // RFC 3463 4.2.2: mailbox full; the retry schedule applies.
  overQuota: '452 4.2.2 mailbox full',
  // RFC 3463 4.3.1: mail system full (ENOSPC, EDQUOT of the filesystem).
  diskFull: '452 4.3.1 insufficient system storage',
  ioError: '451 4.3.0 local delivery failed, will retry',
  invalidMailbox: '550 5.1.3 invalid local mailbox',
  expired: '550 5.4.7 delivery time expired',
} as const;

type Result = 'ok' | 'deferred' | 'failed';

/** Starts the worker; it runs until `stop()`. */
export function startLocalDeliveryWorker(options: LocalDeliveryWorkerOptions): LocalDeliveryWorker {
  const { queue, store, log, metrics } = options;
  const domainsOption = options.domains;
  const currentDomains = () => {
    const list = typeof domainsOption === 'function' ? domainsOption() : domainsOption;
    return [...new Set(list.map(normaliseDomainName))];
  };
  const concurrency = Math.max(1, options.concurrency ?? 32);
  const quota = createQuotaCheck({ store, quota: options.quota });
  // Exactly once, cheaply: a file for (message, recipient) can only exist already if an earlier
  // attempt reached the rename without its settle being recorded. That attempt was either made
  // by an earlier run of the server (the message was in the queue when this worker started: the
  // ids below, taken once at start, since one process owns a spool at a time), or by this run
  // (remembered in `unsettled` until its settle succeeds), or it settled deferred (attempts > 0).
  // Only those deliveries pay for the readdir of new/ and cur/; a fresh message does not. (A second
  // write of a file still in new/ would only replace it, same name; the check is for the copy that
  // Dovecot moved to cur/ meanwhile, which a second write would duplicate.)
  const fromEarlierRun = new Set<string>();
  const unsettled = new Set<string>();
  const inFlight = new Map<string, { leaseId: string }>(); // (message, domain) -> the newest lease
  const tasks = new Set<Promise<void>>();
  let loaded: Promise<void> | undefined;
  let pumping: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let nextDomain = 0;

  const key = (id: string, recipient: string) => `${id}\n${recipient}`;

  const load = () => {
    loaded ??= queue.list().then(
      (messages) => {
        for (const message of messages) {
          // Every message, not only our domains': a domain added by a reload may have been local before.
          if (message.recipients.length > 0) fromEarlierRun.add(message.id);
        }
      },
      (error: unknown) => {
        loaded = undefined; // tried again at the next pump
        throw error;
      },
    );
    return loaded;
  };

  const deliverOne = async (claim: Claim, recipient: { address: string; attempts: number }, folder: MaildirFolder) => {
    const id = claim.id;
    const logId = /^[0-9a-f]{16}$/.test(id) ? id : log.newId();
    const fields = { to: `<${recipient.address}>`, folder, msgid: claim.attributes.msgid };
    let outcome: RecipientOutcome;
    let result: Result;
    let file: string | undefined;
    let already = false;
    let error: string | undefined;
    try {
      if (await quota.wouldExceed(recipient.address, claim.size)) {
        outcome = { recipient: recipient.address, status: 'deferred', reply: localDeliveryReplies.overQuota };
        result = 'deferred';
      } else {
        const mayExist = fromEarlierRun.has(id) || recipient.attempts > 0 || unsettled.has(key(id, recipient.address));
        unsettled.add(key(id, recipient.address));
        const body = await queue.openBody(id);
        let delivered: Awaited<ReturnType<MaildirStore['deliver']>>;
        try {
          delivered = await store.deliver({
            queueId: id,
            recipient: recipient.address,
            folder,
            sender: claim.sender,
            createdAt: claim.createdAt,
            body,
            size: claim.size,
            mayExist,
          });
        } finally {
          body.destroy();
        }
        file = delivered.file;
        already = delivered.alreadyDelivered;
        outcome = {
          recipient: recipient.address,
          status: 'delivered',
          reply: already ? localDeliveryReplies.alreadyDelivered : localDeliveryReplies.delivered,
        };
        result = 'ok';
      }
    } catch (caught) {
      ({ outcome, result } = outcomeOfError(recipient.address, caught));
      if (isQueueError(caught, 'NOT_FOUND')) unsettled.delete(key(id, recipient.address));
      error = (caught as Error).message;
    }
    return { outcome, result, logId, fields, file, already, error };
  };

  const run = async (claim: Claim) => {
    const flight = `${claim.id}\n${claim.domain}`;
    inFlight.set(flight, { leaseId: claim.leaseId });
    try {
      const folder: MaildirFolder = claim.attributes.folder === 'Junk' ? 'Junk' : 'INBOX';
      if (claim.expired === true) {
        await settle(claim, flight, folder, expiredResults(claim, folder));
        return;
      }
      const renewal = keepLease(claim, flight);
      try {
        const results = await Promise.all(claim.recipients.map((r) => deliverOne(claim, r, folder)));
        await settle(claim, flight, folder, results);
      } finally {
        clearInterval(renewal);
      }
    } finally {
      inFlight.delete(flight);
    }
  };

  // A delivery may outlast its lease (a 200 MiB message on a slow disk): renewed at half-time, so
  // the queue does not hand the claim out again meanwhile. If it did anyway (a renewal failed), the
  // new claim comes back to this worker, which settles with the newer lease (see `pump`).
  const keepLease = (claim: Claim, flight: string) => {
    const leaseMs = options.leaseMs ?? Math.max(1000, claim.leaseUntil - Date.now());
    const timer = setInterval(() => {
      const leaseId = inFlight.get(flight)?.leaseId ?? claim.leaseId;
      queue.renewLease(leaseId, leaseMs).catch((error: unknown) => {
        log.event(claim.id, 'delivery', 'lease-renewal-failed', { error: (error as Error).message });
      });
    }, leaseMs / 2);
    timer.unref();
    return timer;
  };

  const settle = async (claim: Claim, flight: string, folder: MaildirFolder, results: DeliveryLine[]) => {
    const leaseId = inFlight.get(flight)?.leaseId ?? claim.leaseId;
    let settled = true;
    try {
      const outcomes = results.map((r) => r.outcome);
      const failed = outcomes.filter((o) => o.status === 'failed');
      const delivered = outcomes.filter((o) => o.status === 'delivered');
      const enqueue = [
        ...(failed.length > 0 && options.bounces !== undefined ? await options.bounces(claim, failed) : []),
        // Called for every settle: an alias expansion is reported at its first attempt, delivered or not.
        ...(options.successes === undefined ? [] : await options.successes(claim, delivered)),
      ];
      const decision = await queue.settle(leaseId, outcomes, enqueue.length > 0 ? { enqueue } : undefined);
      if (decision.complete) fromEarlierRun.delete(claim.id);
    } catch (error) {
      // The files stay; `unsettled` makes the next attempt find them instead of writing again.
      settled = false;
      log.event(claim.id, 'delivery', 'settle-failed', { error: (error as Error).message });
    }
    for (const line of results) {
      // Once settled, a later attempt (a deferral's retry) is known by its attempts count.
      if (settled) unsettled.delete(key(claim.id, line.outcome.recipient));
      log.event(line.logId, 'delivery', 'local', {
        to: line.fields.to,
        folder: line.fields.folder,
        result: line.result,
        msgid: line.fields.msgid,
        file: line.file,
        duplicate: line.already ? true : undefined,
        reply: line.result === 'ok' ? undefined : line.outcome.reply,
        error: line.error,
        settled: settled ? undefined : false,
      });
      metrics.localDelivery(line.result, folder);
    }
  };

  const expiredResults = (claim: Claim, folder: MaildirFolder): DeliveryLine[] =>
    claim.recipients.map((r) => ({
      outcome: { recipient: r.address, status: 'failed', reply: localDeliveryReplies.expired },
      result: 'failed',
      logId: /^[0-9a-f]{16}$/.test(claim.id) ? claim.id : log.newId(),
      fields: { to: `<${r.address}>`, folder, msgid: claim.attributes.msgid },
      file: undefined,
      already: false,
      error: undefined,
    }));

  const pump = (): Promise<void> => {
    if (pumping !== undefined) {
      again = true;
      return pumping;
    }
    pumping = claimLoop().finally(() => {
      pumping = undefined;
    });
    return pumping;
  };

  const claimLoop = async () => {
    try {
      do {
        again = false;
        await load();
        const domains = currentDomains();
        // Round-robin over our domains so that one busy domain does not starve the others.
        for (let tried = 0; tried < domains.length && !stopped && tasks.size < concurrency; tried += 1) {
          const domain = domains[nextDomain % domains.length] as string;
          nextDomain += 1;
          const limit = concurrency - tasks.size;
          const claims = await queue.claim({ domain, limit, leaseMs: options.leaseMs });
          for (const claim of claims) {
            const flight = inFlight.get(`${claim.id}\n${claim.domain}`);
            if (flight !== undefined) {
              // Our own delivery outlived its lease: settle it with the new lease, never deliver twice.
              flight.leaseId = claim.leaseId;
              continue;
            }
            const task = run(claim).catch((error: unknown) => {
              log.event(claim.id, 'delivery', 'local-error', { error: (error as Error).message });
            });
            tasks.add(task);
            void task.finally(() => {
              tasks.delete(task);
              if (!stopped) void pump();
            });
          }
          if (claims.length === limit) again = true;
        }
      } while (again && !stopped && tasks.size < concurrency);
    } catch (error) {
      if (!stopped) log.event(log.runId, 'delivery', 'local-claim-failed', { error: (error as Error).message });
    }
  };

  const timer = setInterval(() => void pump(), options.pollMs ?? 1000);
  timer.unref();
  void pump();

  return {
    kick() {
      if (!stopped) void pump();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      // A claim in flight may still start deliveries: they run to their settle too.
      await pumping;
      while (tasks.size > 0) await Promise.all([...tasks]);
    },
  };
}

interface DeliveryLine {
  outcome: RecipientOutcome;
  result: Result;
  logId: string;
  fields: { to: string; folder: MaildirFolder; msgid: string | undefined };
  file: string | undefined;
  already: boolean;
  error: string | undefined;
}

/** What a delivery error means for the recipient: full disks and I/O retry, bad names fail. */
function outcomeOfError(recipient: string, error: unknown): { outcome: RecipientOutcome; result: Result } {
  if (isLocalDeliveryError(error, 'INVALID_ADDRESS')) {
    return { outcome: { recipient, status: 'failed', reply: localDeliveryReplies.invalidMailbox }, result: 'failed' };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reply = code === 'ENOSPC' || code === 'EDQUOT' ? localDeliveryReplies.diskFull : localDeliveryReplies.ioError;
  return { outcome: { recipient, status: 'deferred', reply }, result: 'deferred' };
}
