// Public API of @homing/queue: exported by name, nothing else.

/** The embedded file backend of `Queue`, its options, and the function that opens it. */
export { FileQueue, type FileQueueOptions, openFileQueue } from './file-queue';
/** A pino-compatible logger. */
export type { QueueLogger } from './internal/recover-spool';
/** The queue contract every backend implements, and its value types. */
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
/** The package's one error class, its codes and the SMTP reply each maps to. */
export { isQueueError, QueueError, type QueueErrorCode, type QueueReply } from './queue-error';
/** The retry schedule: exponential backoff with jitter, clamped to expiry. */
export {
  type NextAttempt,
  type NextAttemptInput,
  nextAttempt,
  type RetryScheduleOptions,
  retryScheduleDefaults,
} from './retry-schedule';
/** The file operations the spool uses, injectable for fault tests. */
export { nodeSpoolFileSystem, type SpoolFile, type SpoolFileSystem } from './spool-file-system';
