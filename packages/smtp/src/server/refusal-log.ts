import type { DecisionEvent } from '../core/server-events';
import type { Logger, SessionInfo } from './options';

// The log lines of refusals, in the shape fail2ban and people read: every refused command is one
// `smtp failed-command` with the client's address, the command (AUTH without credentials) and the
// reply. A refused connection, message or AUTH is `smtp rejected`: the application says more
// about those (an auth-failed line with the user, say), and fail2ban does not count them twice.

/** Logs a reply the core made on its own, when it refuses (5xx). */
export function logCoreRefusal(logger: Logger, info: SessionInfo, command: string | undefined, wire: string): void {
  logger.info({ id: info.id, address: info.remoteAddress, command, result: wire.trimEnd() }, 'smtp failed-command');
}

/** Logs a hook's reject decision. */
export function logHookRefusal(
  logger: Logger,
  info: SessionInfo,
  event: DecisionEvent,
  command: string | undefined,
  wire: string,
): void {
  const fields = { id: info.id, address: info.remoteAddress, command, result: wire.trimEnd() };
  if (event.type === 'Hello' || event.type === 'MailFrom' || event.type === 'RcptTo') {
    logger.info(fields, 'smtp failed-command');
  } else {
    logger.info({ ...fields, event: event.type }, 'smtp rejected');
  }
}

/**
 * Logs a TLS handshake cut at `limits.tlsHandshakeTimeoutMs`: no SMTP reply can be sent inside a
 * handshake, so this line (with the client's address first, as fail2ban reads it) is all that
 * tells of it. `tls`: `implicit` on an implicit-TLS listener, `starttls` after our 220.
 */
export function logHandshakeTimeout(
  logger: Logger,
  id: string,
  address: string,
  tls: 'implicit' | 'starttls',
  timeoutMs: number,
): void {
  logger.info({ id, address, tls, timeout_ms: timeoutMs }, 'smtp tls-handshake-timeout');
}
