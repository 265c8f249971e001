import { Readable } from 'node:stream';
import type { Decision } from '../core/server-events';
import { SmtpError } from '../core/smtp-error';
import { HOOK_FAILED } from './hook-calls';
import type { IncomingMessage, Logger, SessionInfo, SmtpServerHooks } from './options';

/**
 * The body of one message as the `data` hook reads it: a byte stream with back-pressure, and the
 * hook's decision. The connection pushes body bytes in and stops reading the socket while
 * `push()` says the hook is behind; `onDrained` tells it to read again.
 */
export class MessageStream {
  private readonly body: Readable;
  private readonly decision: Promise<Decision>;

  constructor(
    hook: NonNullable<SmtpServerHooks['data']>,
    info: SessionInfo,
    mode: IncomingMessage['mode'],
    onDrained: () => void,
    logger: Logger | undefined,
  ) {
    const body = new Readable({ highWaterMark: 256 * 1024, read: onDrained });
    // A hook that stops reading early (it has decided) must not stall the connection.
    body.on('error', () => {});
    this.body = body;
    let result: Decision | Promise<Decision>;
    try {
      result = hook(info, { body, mode });
    } catch (error) {
      result = Promise.reject(error);
    }
    this.decision = Promise.resolve(result)
      .then((decision) => {
        if (!body.readableEnded) body.resume();
        return decision;
      })
      .catch((error: unknown) => {
        logger?.error({ id: info.id, err: error }, 'smtp hook-failed');
        if (!body.destroyed) body.resume();
        return HOOK_FAILED;
      });
  }

  /** Adds body bytes (the stream keeps them: give a copy of a reused buffer). False: the hook is behind. */
  push(chunk: Uint8Array): boolean {
    return this.body.push(chunk);
  }

  /** The body is complete: resolves with the hook's decision. */
  end(): Promise<Decision> {
    this.body.push(null);
    return this.decision;
  }

  /** The message will not complete: the hook's reads fail with `error` (or a connection-closed error). */
  abort(error?: Error): void {
    this.body.destroy(
      error ?? new SmtpError('SMTP_CONNECTION_CLOSED', 'the connection closed before the end of the message'),
    );
  }
}
