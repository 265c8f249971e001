// Public API of @homing/queue: exported by name, nothing else.

/**
 * The embedded file backend:
 * - `openFileQueue(options)`: opens (and recovers) the queue in a spool directory.
 * - `FileQueue`: the backend of `Queue` that `openFileQueue` returns; `recovery` says what recovery found.
 * - `FileQueueOptions`: spool, read-only open, retry timing, delay warning, lease, batch and journal limits, now (the clock), random, logger, file system.
 */
export { FileQueue, openFileQueue } from './file-queue';
export type { FileQueueOptions } from './file-queue-options';
/** `Logger`: the pino-compatible logger every @homing package takes (`QueueLogger` is its deprecated name). */
export type { Logger, QueueLogger } from './logger';
/**
 * The contract every backend implements, and its values:
 * - `Queue`: enqueue, claim, settle, renewLease, hold, release, remove, reschedule, list, inspect, openBody, close, recovery.
 * - `EnvelopeInput`, `BodyInput`, `EnqueueOptions`, `EnqueueResult`: what goes in and what comes back from `enqueue`.
 * - `ClaimOptions`, `Claim`: leased work, one message's due recipients at one domain.
 * - `RecipientOutcome`, `SettleResult`: outcomes given to `settle`, and its decision (complete, to bounce, delay warning).
 * - `SettleOptions`, `FollowUpMessage`: the follow-up messages (bounces) a settle commits with its outcomes.
 * - `MessageInfo`, `RecipientInfo`, `RecipientState`, `ListFilter`: what `list` and `inspect` show, and the filter.
 * - `RecoveryReport`: removed temporary files, corrupt files, messages after recovery.
 */
export type {
  BodyInput,
  Claim,
  ClaimOptions,
  EnqueueOptions,
  EnqueueResult,
  EnvelopeInput,
  FollowUpMessage,
  ListFilter,
  MessageInfo,
  Queue,
  RecipientInfo,
  RecipientOutcome,
  RecipientState,
  RecoveryReport,
  SettleOptions,
  SettleResult,
} from './queue';
/**
 * The error of the package:
 * - `QueueError`: the one error class; `code` says what failed, `reply` is the SMTP reply to send.
 * - `isQueueError(error, code?)`: recognises it (optionally of one code) without instanceof.
 * - `QueueErrorCode`, `QueueReply`: the codes, and the `{ code, enhanced, lines }` reply shape.
 */
export { isQueueError, QueueError, type QueueErrorCode, type QueueReply } from './queue-error';
/**
 * The retry schedule:
 * - `nextAttempt(input, options?)`: exponential backoff with jitter, clamped to expiry, or expire.
 * - `retryScheduleDefaults`: Postfix's 300 s, 4000 s, 5 days, and 10% jitter.
 * - `RetryScheduleOptions`, `NextAttemptInput`, `NextAttempt`: its options, input and decision.
 */
export {
  type NextAttempt,
  type NextAttemptInput,
  nextAttempt,
  type RetryScheduleOptions,
  retryScheduleDefaults,
} from './retry-schedule';
/**
 * The file operations of the spool:
 * - `nodeSpoolFileSystem`: the default, on node:fs.
 * - `SpoolFileSystem`, `SpoolFile`: what a replacement implements (tests inject failing writes and fsyncs).
 */
export { nodeSpoolFileSystem, type SpoolFile, type SpoolFileSystem } from './spool-file-system';
