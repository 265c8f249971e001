import type { Socket } from 'node:net';
import { SmtpClientError } from '../core/client-error';
import type { ClientEvent, ClientSession } from '../core/client-session';
import { DataEncoder } from '../core/data-encoder';
import type { Logger } from './client-options';
import type { MessageSource } from './message-source';

// BDAT chunks are pipelined; a megabyte keeps round trips rare and memory bounded.
const BDAT_CHUNK = 1024 * 1024;

/** What writing a body needs from its client: the socket of the moment, the session, how to fail. */
export interface BodyChannel {
  readonly session: ClientSession;
  readonly logger: Logger | undefined;
  /** RFC 5321 4.5.3.2.5: how long one block may take to be taken by the socket or given by the caller. */
  readonly dataBlockMs: number;
  /** Waits to wake with the error when the connection fails. */
  readonly wakers: Set<(error?: SmtpClientError) => void>;
  socket(): Socket;
  error(): SmtpClientError | undefined;
  fail(error: SmtpClientError): void;
  handle(events: ClientEvent[]): void;
  armReplyTimer(): void;
}

/**
 * Streams one message body: encoded (dot-stuffing and CRLF for DATA, line ends only for BDAT),
 * with bounded reads of the caller's stream and writes with back-pressure, stopping as soon as the
 * session no longer wants it (a refused chunk, an early reply). Never ends a DATA whose source
 * broke: that would deliver a truncated message.
 */
export async function writeBody(channel: BodyChannel, source: MessageSource, mode: 'data' | 'bdat'): Promise<void> {
  const { session } = channel;
  const encoder = new DataEncoder(mode);
  try {
    if (mode === 'data') {
      for await (const chunk of read(channel, source)) {
        if (!session.bodyWanted) return;
        const out = encoder.encode(chunk);
        if (out.length > 0) await writeCorked(channel, out);
      }
      if (!session.bodyWanted) return;
      const ending = write(channel, encoder.end());
      uncork(channel.socket());
      await ending;
      channel.handle(session.endBody());
      channel.armReplyTimer();
      return;
    }
    let pending: Buffer[] = [];
    let size = 0;
    for await (const chunk of read(channel, source)) {
      if (!session.bodyWanted) return;
      const out = encoder.encode(chunk);
      pending.push(out);
      size += out.length;
      if (size >= BDAT_CHUNK) {
        await writeEvents(channel, session.bdatChunk(Buffer.concat(pending), false));
        pending = [];
        size = 0;
      }
    }
    if (!session.bodyWanted) return;
    pending.push(encoder.end());
    await writeEvents(channel, session.bdatChunk(Buffer.concat(pending), true));
    channel.armReplyTimer();
  } catch (error) {
    if (error instanceof SmtpClientError) return channel.fail(error);
    channel.fail(
      new SmtpClientError(
        'MESSAGE_SOURCE_FAILED',
        `reading the message failed: ${(error as Error)?.message ?? error}`,
        {
          cause: error,
        },
      ),
    );
  }
}

/** Reads the caller's message; each wait is bounded by the data-block timeout and ends if the connection fails. */
async function* read(channel: BodyChannel, source: MessageSource): AsyncGenerator<Uint8Array> {
  const iterator = source.chunks[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await bounded(channel, iterator.next());
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Stop the caller's stream when we leave early (refused body, failure); a Readable is destroyed.
    if (!finished) {
      source.cancel();
      Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  }
}

function bounded<T>(channel: BodyChannel, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const ms = channel.dataBlockMs;
    const done = (error?: SmtpClientError) => {
      clearTimeout(timer);
      channel.wakers.delete(done);
      if (error) reject(error);
    };
    const timer = setTimeout(
      () => done(new SmtpClientError('MESSAGE_SOURCE_FAILED', `the message stream gave nothing for ${ms} ms`)),
      ms,
    );
    channel.wakers.add(done);
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

async function writeEvents(channel: BodyChannel, events: ClientEvent[]): Promise<void> {
  for (const event of events) {
    if (event.type === 'Send') {
      channel.logger?.debug({ command: event.text }, 'smtp send');
      await write(channel, event.data);
    }
  }
}

/**
 * Writes a block of the body corked until the next turn of the event loop: when the source ends
 * before that (a message held in memory, most of them), the end of data goes out in the same
 * write as the last block, one segment and one wake-up of the server fewer per message; a source
 * that takes longer (a file, a stalled stream) has the block flushed meanwhile, as before.
 */
function writeCorked(channel: BodyChannel, data: Buffer): Promise<void> {
  const socket = channel.socket();
  if (socket.writableCorked === 0 && !socket.destroyed) {
    socket.cork();
    setImmediate(() => uncork(socket));
  }
  return write(channel, data);
}

function uncork(socket: Socket): void {
  while (socket.writableCorked > 0) socket.uncork();
}

/** Writes with back-pressure: waits for 'drain', bounded by the data-block timeout (RFC 5321 4.5.3.2.5). */
function write(channel: BodyChannel, data: Buffer): Promise<void> {
  const failed = channel.error();
  if (failed) return Promise.reject(failed);
  const socket = channel.socket();
  if (socket.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: SmtpClientError) => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      channel.wakers.delete(done);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const timer = setTimeout(() => {
      const error = new SmtpClientError('TIMEOUT', `data block not accepted within ${channel.dataBlockMs} ms`);
      done(error);
      channel.fail(error);
    }, channel.dataBlockMs);
    socket.once('drain', onDrain);
    channel.wakers.add(done);
  });
}
