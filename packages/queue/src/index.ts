// Public API of @homing/queue: exported by name, nothing else.

/** Options of `openFileQueue` (spool, retry timing, limits, clock, logger, file system). */
export type { FileQueueOptions } from './file-queue';
/** Opens (and recovers) the embedded file backend in a spool directory. */
/** The embedded file backend of `Queue`, as `openFileQueue` returns it. */
export { FileQueue, openFileQueue } from './file-queue';
/** A pino-compatible logger. */
export type { QueueLogger } from './internal/recover-spool';
/** The queue contract every backend implements. */
/** The envelope given to `enqueue`: sender, recipients, attributes. */
/** A body: a Buffer, a Uint8Array, or any async iterable of chunks (a Readable). */
/** Options of `enqueue`: headers to prepend. */
/** What `enqueue` resolves to once durable: id and size. */
/** Options of `claim`: limit, lease length, domain. */
/** One leased unit of work: a message's due recipients at one domain. */
/** The outcome of an attempt for one recipient, given to `settle`. */
/** What `settle` decided: completion, recipients to bounce, delay warning. */
/** A message as `list` and `inspect` show it. */
/** One recipient's state, attempts, next attempt and last reply. */
/** pending, deferred, delivered or failed. */
/** Filter of `list`: sender, recipient, domain, state, limit. */
/** What recovery found when the queue opened. */
export type {
  BodyInput,
  Claim,
  ClaimOptions,
  EnqueueOptions,
  EnqueueResult,
  EnvelopeInput,
  ListFilter,
  MessageInfo,
  Queue,
  RecipientInfo,
  RecipientOutcome,
  RecipientState,
  RecoveryReport,
  SettleResult,
} from './queue';
/** The codes of QueueError. */
/** An SMTP reply: code, enhanced status, text lines. */
export type { QueueErrorCode, QueueReply } from './queue-error';
/** The package's one error class, with a string code and the SMTP reply to send. */
/** Recognises a QueueError (optionally of one code) without instanceof. */
export { isQueueError, QueueError } from './queue-error';
/** Retry timing options: minimal and maximal backoff, lifetime, jitter. */
/** The input of `nextAttempt`: attempts, createdAt, now, random. */
/** The decision of `nextAttempt`: retry at a time, or expire. */
export type { NextAttempt, NextAttemptInput, RetryScheduleOptions } from './retry-schedule';
/** The retry schedule: exponential backoff with jitter, clamped to expiry. */
/** The Postfix-like defaults of the retry schedule. */
export { nextAttempt, retryScheduleDefaults } from './retry-schedule';
/** The file operations the spool uses, injectable for fault tests. */
/** An open spool file. */
export type { SpoolFile, SpoolFileSystem } from './spool-file-system';
/** The default file operations of the spool, on node:fs. */
export { nodeSpoolFileSystem } from './spool-file-system';
