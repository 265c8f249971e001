import type { Reply } from '@homing/smtp';
import { isDeliveryError } from './delivery-error';

/** What a reply code means for delivery (RFC 5321 4.2.1: the first digit decides). */
export type ReplyClass = 'success' | 'intermediate' | 'transient' | 'permanent';

/** How a failure is reported: deferred (try again) or failed (bounce), with the reason and status code. */
export interface FailureClass {
  status: 'deferred' | 'failed';
  /** RFC 3463 enhanced status code, e.g. `4.4.1`. */
  enhanced: string;
  /** A one-line reason for logs and the DSN. */
  reason: string;
  /** The remote reply, when the failure came with one. */
  reply?: Reply;
}

/**
 * Classifies a reply by its first digit (RFC 5321 4.2.1). A code that is not 2xx-5xx is not a
 * valid reply: it is treated as transient, since the peer is broken rather than refusing.
 */
export function classifyReply(reply: Pick<Reply, 'code'>): ReplyClass {
  const first = Math.floor(reply.code / 100);
  if (!Number.isInteger(reply.code) || reply.code < 200 || reply.code > 599) return 'transient';
  if (first === 2) return 'success';
  if (first === 3) return 'intermediate';
  if (first === 4) return 'transient';
  return 'permanent';
}

/** One line for logs, DSNs and the CLI: `550 5.1.1 User unknown` (multi-line text joined with spaces, CR/LF removed). */
export function formatReplyLine(reply: Reply): string {
  const text = reply.lines
    .map((line) => line.replace(/[\r\n\0]+/g, ' ').trim())
    .filter((line) => line !== '')
    .join(' ');
  return [String(reply.code), reply.enhanced, text].filter((part) => part !== undefined && part !== '').join(' ');
}

/**
 * The enhanced status code to report for a reply: its own when its class agrees with the reply
 * code (RFC 3463 2: the reply code wins when they disagree), else `X.0.0`.
 */
export function enhancedStatusOf(reply: Reply): string {
  const first = String(Math.floor(reply.code / 100));
  if (reply.enhanced !== undefined && /^[245]\.\d{1,3}\.\d{1,3}$/.test(reply.enhanced)) {
    if (reply.enhanced[0] === first) return reply.enhanced;
  }
  return first === '5' ? '5.0.0' : first === '2' ? '2.0.0' : '4.0.0';
}

/** Enhanced codes (RFC 3463) for SMTP client failures that carry no reply. */
const CLIENT_ERROR_STATUS: Record<string, string> = {
  CONNECT_FAILED: '4.4.1',
  TIMEOUT: '4.4.2',
  CONNECTION_CLOSED: '4.4.2',
  ABORTED: '4.3.2',
  TLS_FAILED: '4.7.5',
  TLS_UNAVAILABLE: '4.7.5',
  PROTOCOL: '4.5.0',
  REPLY_TOO_LONG: '4.5.0',
  SERVICE_UNAVAILABLE: '4.3.2',
  AUTH_UNAVAILABLE: '4.7.0',
  AUTH_FAILED: '4.7.0',
  MESSAGE_TOO_BIG: '5.3.4',
  SMTPUTF8_UNSUPPORTED: '5.6.7',
  INVALID_ENVELOPE: '5.1.3',
};

/** Node socket error codes that mean the peer could not be reached or dropped us: all transient. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EADDRNOTAVAIL',
]);

/**
 * Classifies any failure of a delivery attempt: a reply (4xx transient, 5xx permanent), an
 * `SmtpClientError` (its `transient` flag), a `DeliveryError`, a socket error (transient).
 * Anything unknown is deferred: retrying a message is recoverable, a wrong bounce is not.
 * Authentication failures towards a smarthost are deferred too: they are the operator's
 * configuration problem, not the sender's (Postfix does the same).
 */
export function classifyFailure(error: unknown): FailureClass {
  if (isDeliveryError(error)) {
    return { status: error.transient ? 'deferred' : 'failed', enhanced: error.enhanced, reason: error.message };
  }
  const shaped = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    transient?: unknown;
    reply?: Reply;
    message?: unknown;
  };
  const message = typeof shaped.message === 'string' ? shaped.message : String(error);
  // `@homing/smtp`'s client errors, recognised by shape (as its isSmtpClientError does) across duplicate installs.
  const clientError =
    (shaped.name === 'SmtpError' || shaped.name === 'SmtpClientError') &&
    typeof shaped.code === 'string' &&
    typeof shaped.transient === 'boolean';
  if (clientError && typeof shaped.code === 'string') {
    const code = shaped.code;
    // Only a refusal (4xx/5xx) explains the failure; a timeout may carry the last 2xx/3xx reply seen.
    const reply = shaped.reply !== undefined && shaped.reply.code >= 400 ? shaped.reply : undefined;
    const authProblem = code === 'AUTH_FAILED' || code === 'AUTH_UNAVAILABLE';
    const transient = authProblem || shaped.transient === true;
    const status = transient ? 'deferred' : 'failed';
    let enhanced = CLIENT_ERROR_STATUS[code] ?? (transient ? '4.0.0' : '5.0.0');
    if (reply !== undefined && !authProblem) enhanced = enhancedStatusOf(reply);
    if (enhanced[0] !== (transient ? '4' : '5')) enhanced = `${transient ? '4' : '5'}${enhanced.slice(1)}`;
    const reason = reply !== undefined ? `${message} (${formatReplyLine(reply)})` : message;
    return reply === undefined ? { status, enhanced, reason } : { status, enhanced, reason, reply };
  }
  if (typeof shaped.code === 'string' && NETWORK_CODES.has(shaped.code)) {
    return { status: 'deferred', enhanced: '4.4.1', reason: message };
  }
  return { status: 'deferred', enhanced: '4.0.0', reason: message };
}
