/** The codes a `QueueError` carries; each maps to the SMTP reply a server sends. */
export type QueueErrorCode =
  | 'STORAGE_UNAVAILABLE'
  | 'INVALID_ENVELOPE'
  | 'BODY_FAILED'
  | 'NOT_FOUND'
  | 'LEASE_LOST'
  | 'CLOSED'
  | 'LOCKED'
  | 'READ_ONLY'
  | 'INVALID_ARGUMENT'
  | 'SCHEMA_TOO_NEW';

/** An SMTP reply (RFC 5321 4.2), the same shape as `@homing/smtp`'s `Reply`. */
export interface QueueReply {
  code: number;
  enhanced?: string;
  lines: string[];
}

// RFC 3463: 4.3.0 "other or undefined mail system status", 4.3.2 "system not accepting network messages".
const replies: Record<QueueErrorCode, QueueReply> = {
  STORAGE_UNAVAILABLE: { code: 451, enhanced: '4.3.0', lines: ['Temporary local problem: queue storage unavailable'] },
  INVALID_ENVELOPE: { code: 501, enhanced: '5.5.4', lines: ['Invalid envelope'] },
  BODY_FAILED: { code: 451, enhanced: '4.3.0', lines: ['Temporary local problem: message body not received'] },
  NOT_FOUND: { code: 550, enhanced: '5.1.0', lines: ['No such message in the queue'] },
  LEASE_LOST: { code: 451, enhanced: '4.3.0', lines: ['Queue lease lost'] },
  CLOSED: { code: 421, enhanced: '4.3.2', lines: ['Queue closed'] },
  LOCKED: { code: 451, enhanced: '4.3.0', lines: ['Temporary local problem: queue in use by another process'] },
  READ_ONLY: { code: 451, enhanced: '4.3.0', lines: ['Temporary local problem: queue opened read-only'] },
  INVALID_ARGUMENT: { code: 451, enhanced: '4.3.0', lines: ['Temporary local problem: invalid queue request'] },
  SCHEMA_TOO_NEW: {
    code: 451,
    enhanced: '4.3.0',
    lines: ['Temporary local problem: queue schema newer than this server'],
  },
};

const marker = Symbol.for('@homing/queue.QueueError');

/** The one error class of @homing/queue: a string `code`, a `cause`, and the SMTP `reply` to send. */
export class QueueError extends Error {
  readonly code: QueueErrorCode;
  readonly reply: QueueReply;
  readonly [marker] = true;
  override readonly name = 'QueueError';

  constructor(code: QueueErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.reply = replies[code];
  }
}

/** True when `error` is a QueueError (of `code`, when given), even from another copy of the package. */
export function isQueueError(error: unknown, code?: QueueErrorCode): error is QueueError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { [marker]?: unknown; code?: unknown; name?: unknown };
  if (candidate[marker] !== true && candidate.name !== 'QueueError') return false;
  return code === undefined || candidate.code === code;
}
