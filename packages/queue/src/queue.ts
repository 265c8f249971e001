import type { Readable } from 'node:stream';

/** The envelope of a message to queue (RFC 5321 3.3): reverse-path and forward-paths. */
export interface EnvelopeInput {
  /** The MAIL FROM address; '' for the null reverse-path of a bounce. */
  sender: string;
  /** The RCPT TO addresses; at least one. */
  recipients: readonly string[];
  /** Free-form values kept with the message (client address, authenticated user, DSN options). */
  attributes?: Record<string, string>;
}

/** A message body: bytes at once, or a stream (a Readable is an AsyncIterable). */
export type BodyInput = Buffer | Uint8Array | AsyncIterable<Buffer | Uint8Array | string>;

/** Options of `enqueue`. */
export interface EnqueueOptions {
  /** Header lines written before the body (Received, DKIM-Signature), with their CRLFs. */
  prepend?: Buffer | string;
}

/** What `enqueue` resolves to once the message is durable. */
export interface EnqueueResult {
  id: string;
  /** Bytes stored: prepended headers and body. */
  size: number;
}

/** The state of one recipient. */
export type RecipientState = 'pending' | 'deferred' | 'delivered' | 'failed';

/** One recipient of a queued message and where it stands. */
export interface RecipientInfo {
  address: string;
  /** The domain of the address, lower-cased: what claims are grouped by. */
  domain: string;
  state: RecipientState;
  /** Delivery attempts settled so far. */
  attempts: number;
  /** When the recipient is due next (ms since the epoch); meaningless once final. */
  nextAttemptAt: number;
  /** The last reply recorded for it (remote reply or reason). */
  reply?: string;
  /** True when it failed because the message outlived the maximal lifetime. */
  expired?: boolean;
}

/** A queued message as `list` and `inspect` show it (no body). */
export interface MessageInfo {
  id: string;
  /** Acceptance order: unique, increasing, kept across restarts; `list` and `claim` order by it. */
  seq: number;
  sender: string;
  attributes: Record<string, string>;
  size: number;
  createdAt: number;
  held: boolean;
  /** True once the delay warning was reported. */
  delayWarned: boolean;
  recipients: RecipientInfo[];
}

/** Options of `claim`. */
export interface ClaimOptions {
  /** Most claims to hand out (default 100). */
  limit?: number;
  /** How long the claim is leased, ms (default: the queue's `leaseMs`). */
  leaseMs?: number;
  /** Only claim recipients of this domain. */
  domain?: string;
  /** Claim recipients of any domain but these (e.g. an outbound worker skipping the local domains). */
  exceptDomains?: readonly string[];
}

/** Work handed to one worker: the due recipients of one message at one destination domain. */
export interface Claim {
  id: string;
  /** Pass to `settle`. */
  leaseId: string;
  /** When the lease runs out and the work may be claimed again (ms since the epoch). */
  leaseUntil: number;
  domain: string;
  sender: string;
  attributes: Record<string, string>;
  size: number;
  createdAt: number;
  recipients: { address: string; attempts: number }[];
  /**
   * True when the message outlived the maximal lifetime (held or never tried included): do not
   * deliver, settle these recipients `failed` and bounce them in the same `settle` (`enqueue`).
   */
  expired?: boolean;
}

/** The outcome of one delivery attempt to one recipient. */
export interface RecipientOutcome {
  recipient: string;
  status: 'delivered' | 'deferred' | 'failed';
  /** The remote reply or a reason, kept as the recipient's last reply. */
  reply?: string;
}

/** A message that a `settle` queues in the same durable step as its outcomes (a bounce, a delay notice). */
export interface FollowUpMessage {
  envelope: EnvelopeInput;
  body: Buffer | string;
  options?: EnqueueOptions;
}

/** Options of `settle`. */
export interface SettleOptions {
  /** Messages committed with the outcomes, all or nothing: a crash never keeps one without the other. */
  enqueue?: readonly FollowUpMessage[];
}

/** What `settle` decided, as values the caller acts on. */
export interface SettleResult {
  id: string;
  /** True when every recipient is now final and the message left the queue. */
  complete: boolean;
  /**
   * Recipients that failed in this settle: those given `failed`, and those deferred on an
   * `expired` claim (marked `expired`), so always known before the call: their bounce belongs in
   * this settle's `options.enqueue`. A deferral after the lifetime ran out, on a claim handed out
   * before it, does not fail the recipient: it comes back at once in an expired claim.
   */
  failed: RecipientInfo[];
  /** Deferred recipients to report in a delay warning; non-empty once per message. */
  delayWarning: RecipientInfo[];
  /** When the message is next due, if it still has recipients to try. */
  nextAttemptAt?: number;
  /** The follow-up messages of `options.enqueue`, in the same order, now queued. */
  enqueued: EnqueueResult[];
}

/** Filter of `list`: every given field must match. */
export interface ListFilter {
  sender?: string;
  /** Messages with this recipient. */
  recipient?: string;
  /** Messages with a recipient at this domain. */
  domain?: string;
  /** Messages with a recipient in this state, or held messages. */
  state?: RecipientState | 'held';
  limit?: number;
}

/** What recovery on open found. */
export interface RecoveryReport {
  /** Half-written files from a crash, never acknowledged, removed. */
  removedTemporary: number;
  /** Damaged files moved (or copied) to `corrupt/`, with the reason. */
  corrupt: { file: string; reason: string }[];
  /** Messages in the queue after recovery. Leases are not kept across a restart: all are free again. */
  messages: number;
}

/**
 * The queue contract. A backend is opened by an async factory that recovers before it resolves
 * (see `openFileQueue`); every method below may reject with a `QueueError`.
 */
export interface Queue {
  /** Stores a message; resolves only once it is durable (the moment to answer 250). */
  enqueue(envelope: EnvelopeInput, body: BodyInput, options?: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Leases due recipients, grouped by message and destination domain, in order of due time and then
   * acceptance (`seq`); recipients of messages past their lifetime come as `expired` claims. Reads no bodies.
   */
  claim(options?: ClaimOptions): Promise<Claim[]>;
  /**
   * Records the outcomes of a claim durably and atomically, with the follow-up messages of
   * `options.enqueue` in the same step; settled recipients are never claimed again.
   */
  settle(leaseId: string, outcomes: readonly RecipientOutcome[], options?: SettleOptions): Promise<SettleResult>;
  /**
   * Extends a lease to `leaseMs` from now and resolves to its new end; rejects `LEASE_LOST` when
   * the lease was handed to another worker after it expired, or is unknown.
   */
  renewLease(leaseId: string, leaseMs: number): Promise<number>;
  /** Keeps a message from being claimed until released. */
  hold(id: string): Promise<void>;
  /** Lets a held message be claimed again. */
  release(id: string): Promise<void>;
  /** Deletes a message and all its recipients. */
  remove(id: string): Promise<void>;
  /** Makes one message (or all) due now; resolves to the number of messages rescheduled. */
  reschedule(id?: string): Promise<number>;
  /** Lists messages in acceptance order (`seq`, oldest first), without reading bodies. */
  list(filter?: ListFilter): Promise<MessageInfo[]>;
  /** One message, or undefined. */
  inspect(id: string): Promise<MessageInfo | undefined>;
  /** The stored bytes of a message (prepended headers and body). */
  openBody(id: string): Promise<Readable>;
  /** Waits for commits in flight and closes the storage. */
  close(): Promise<void>;
  /** What recovery found when the queue was opened. */
  readonly recovery: RecoveryReport;
}
