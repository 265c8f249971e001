import type { Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { MessageParams, RecipientSpec } from '../core/client-commands';
import { SmtpClientError, sessionUnusable } from '../core/client-error';
import type { ClientEvent, ClientSession, ReplyWait, TransactionResult } from '../core/client-session';
import type { ServerExtensions } from '../core/ehlo-extensions';
import type { Reply } from '../core/reply';
import { NEED_DATA } from '../core/server-events';
import { type BodyChannel, writeBody } from './body-writer';
import {
  type ClientTimeouts,
  type ClientTlsInfo,
  type ConnectOptions,
  DEFAULT_CLIENT_TIMEOUTS,
  type Logger,
} from './client-options';
import { type MessageBody, type MessageSource, messageSource } from './message-source';
import { upgradeSocket } from './open-socket';

/** One message for `SmtpClient.send()`. */
export interface OutgoingMessage {
  /** Reverse-path; `''` for the null path `<>`. */
  from: string;
  to: readonly (string | RecipientSpec)[];
  /** The message itself (headers and body), with CRLF or LF line endings; it is normalised to CRLF. */
  message: MessageBody;
  params?: MessageParams;
  /** Size in octets for SIZE= when `message` is a stream (known automatically otherwise). */
  size?: number;
}

type Waiter = {
  kind: 'ready' | 'message' | 'close';
  resolve: (value: never) => void;
  reject: (error: SmtpClientError) => void;
};

/** An open SMTP client connection. Create it with `connect()`; send any number of messages; `close()` it. */
export class SmtpClient {
  readonly #session: ClientSession;
  readonly #timeouts: ClientTimeouts;
  readonly #tlsOptions: ConnectionOptions;
  readonly #logger: Logger | undefined;
  readonly #signal: AbortSignal | undefined;
  #socket: Socket;
  #waiter: Waiter | undefined;
  #timer: NodeJS.Timeout | undefined;
  #error: SmtpClientError | undefined;
  #socketError: Error | undefined;
  #body: MessageSource | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #tlsInfo: ClientTlsInfo | undefined;
  #greeting: Reply | undefined;
  /** Waits (drain, the caller's stream) to end early when the connection fails. */
  #wakers = new Set<(error?: SmtpClientError) => void>();
  /** What the body writer (body-writer.ts) sees of this client. */
  readonly #bodyChannel: BodyChannel;

  /** @internal Use `connect()`. */
  constructor(socket: Socket, session: ClientSession, options: ConnectOptions, tlsOptions: ConnectionOptions) {
    this.#socket = socket;
    this.#session = session;
    this.#timeouts = { ...DEFAULT_CLIENT_TIMEOUTS, ...options.timeouts };
    this.#tlsOptions = tlsOptions;
    this.#logger = options.logger;
    this.#signal = options.signal;
    this.#bodyChannel = {
      session,
      logger: this.#logger,
      dataBlockMs: this.#timeouts.dataBlockMs,
      wakers: this.#wakers,
      socket: () => this.#socket,
      error: () => this.#error,
      fail: (error) => this.#fail(error),
      handle: (events) => this.#handle(events),
      armReplyTimer: () => this.#armReplyTimer(),
    };
    this.#attach(socket);
    if ((socket as TLSSocket).encrypted) this.#tlsInfo = tlsInfo(socket as TLSSocket);
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    // The signal may have fired between the socket opening and this listener.
    if (this.#signal?.aborted) this.#onAbort();
    // The session starts out waiting for the greeting: its timer runs from now.
    this.#armReplyTimer();
  }

  /** The server's extensions from the last EHLO (empty after a HELO fallback). */
  get extensions(): ServerExtensions {
    return this.#session.extensions!;
  }
  /** TLS details once the connection is encrypted (implicit TLS or STARTTLS); undefined in the clear. */
  get tls(): ClientTlsInfo | undefined {
    return this.#tlsInfo;
  }
  /** Our end's address of the connection (the source address the system or `localAddress` chose). */
  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }
  /** Whether AUTH succeeded. */
  get authenticated(): boolean {
    return this.#session.authenticated;
  }
  /** The server's 220 greeting. */
  get greeting(): Reply | undefined {
    return this.#greeting;
  }
  /** Whether the connection can still send messages. */
  get usable(): boolean {
    return !this.#error && !this.#closed && this.#session.state === 'READY';
  }

  /** @internal Resolves once greeting, EHLO, STARTTLS and AUTH are done. */
  ready(): Promise<void> {
    return this.#wait('ready');
  }

  /**
   * Sends one message and resolves with each recipient's outcome. Calls queue up; each
   * message is sent at most once. Rejects with `SmtpClientError` when the message could not
   * be attempted (SIZE, SMTPUTF8) or the connection failed; the connection is then unusable
   * unless the error came before anything was sent.
   */
  send(message: OutgoingMessage): Promise<TransactionResult> {
    const run = this.#tail.then(() => this.#sendNow(message));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Sends QUIT and closes the connection; waits for queued sends first. Never rejects. */
  async close(): Promise<void> {
    await this.#tail;
    if (this.#closed) return;
    if (!this.#error && this.#session.state === 'READY') {
      try {
        const done = this.#wait('close');
        this.#handle(this.#session.quit());
        await done;
      } catch (error) {
        this.#logger?.debug({ err: error }, 'smtp quit failed');
      }
    }
    this.#shutdown();
  }

  async #sendNow(message: OutgoingMessage): Promise<TransactionResult> {
    if (this.#error) {
      // A pooled session the server closed while it sat idle: nothing of this message was sent.
      if (this.#error === this.#session.error && this.#session.failedWhileIdle) {
        throw sessionUnusable(this.#error);
      }
      throw new SmtpClientError('INVALID_STATE', `connection unusable: ${this.#error.message}`, {
        cause: this.#error,
        transient: this.#error.transient,
      });
    }
    if (this.#closed) throw new SmtpClientError('INVALID_STATE', 'connection is closed');
    const source = messageSource(message.message);
    const events = this.#session.startMessage({
      from: message.from,
      to: message.to,
      size: message.size ?? source.size,
      eightBit: source.eightBit,
      params: message.params,
    });
    this.#body = source;
    const result = this.#wait<TransactionResult>('message');
    this.#handle(events);
    return result;
  }

  #wait<T = void>(kind: Waiter['kind']): Promise<T> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<T>((resolve, reject) => {
      this.#waiter = { kind, resolve: resolve as (value: never) => void, reject };
    });
  }

  #settle(kind: Waiter['kind'], value: unknown): void {
    const waiter = this.#waiter;
    if (waiter?.kind !== kind) return;
    this.#waiter = undefined;
    waiter.resolve(value as never);
  }

  #attach(socket: Socket): void {
    // Commands and the end of data are small writes awaiting a reply: Nagle plus delayed ACK would add ~40 ms each.
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  #detach(socket: Socket): void {
    socket.off('data', this.#onData);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
  }

  #onData = (data: Buffer): void => {
    const session = this.#session;
    const greeting = !this.#greeting && session.state === 'GREETING';
    session.receiveData(data);
    if (greeting) this.#greeting = session.lastReply;
    const events: ClientEvent[] = [];
    for (let event = session.nextEvent(); event !== NEED_DATA; event = session.nextEvent()) events.push(event);
    this.#handle(events);
  };

  #onError = (error: Error): void => {
    this.#socketError = error;
    this.#logger?.debug({ err: error }, 'smtp socket error');
  };

  #onClose = (): void => {
    this.#handle(this.#session.connectionClosed(this.#socketError));
    this.#fail(new SmtpClientError('CONNECTION_CLOSED', 'connection closed', { cause: this.#socketError }));
  };

  #onAbort = (): void => {
    this.#fail(
      new SmtpClientError('ABORTED', 'aborted by the caller', { cause: this.#signal?.reason, transient: true }),
    );
  };

  #handle(events: ClientEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'Send':
          this.#logger?.debug({ command: event.text }, 'smtp send');
          if (!this.#socket.destroyed) this.#socket.write(event.data);
          break;
        case 'StartTls':
          void this.#startTls();
          break;
        case 'Ready':
          this.#settle('ready', undefined);
          break;
        case 'SendBody':
          void writeBody(this.#bodyChannel, this.#body!, event.mode);
          break;
        case 'MessageDone':
          this.#body = undefined;
          this.#settle('message', event.result);
          break;
        case 'Failed':
          this.#fail(event.error);
          break;
        case 'Closed':
          this.#closed = true;
          this.#settle('close', undefined);
          break;
      }
    }
    if (events.length > 0) this.#armReplyTimer();
  }

  /** One timer for the reply being awaited (RFC 5321 4.5.3.2), re-armed when that reply changes. */
  #armReplyTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wait: ReplyWait | undefined = this.#session.awaiting;
    if (!wait || this.#error) return;
    const ms = this.#timeouts[`${wait}Ms`];
    this.#timer = setTimeout(() => {
      this.#fail(
        new SmtpClientError('TIMEOUT', `no ${wait} reply within ${ms} ms`, {
          reply: this.#session.lastReply,
          transient: true,
        }),
      );
    }, ms);
  }

  /** Ends everything after an unrecoverable error: rejects the waiting call and drops the connection. */
  #fail(error: SmtpClientError): void {
    clearTimeout(this.#timer);
    if (!this.#error && !this.#closed) {
      this.#error = error;
      this.#logger?.debug({ code: error.code, err: error }, 'smtp connection failed');
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(this.#error ?? error);
    for (const wake of this.#wakers) wake(this.#error ?? error);
    this.#wakers.clear();
    this.#shutdown();
  }

  #shutdown(): void {
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  async #startTls(): Promise<void> {
    const plain = this.#socket;
    this.#detach(plain);
    try {
      const secure = await upgradeSocket(plain, this.#tlsOptions, this.#timeouts.connectMs);
      if (this.#error) {
        secure.destroy();
        return;
      }
      this.#socket = secure;
      this.#attach(secure);
      this.#tlsInfo = tlsInfo(secure);
      this.#handle(this.#session.tlsEstablished());
    } catch (error) {
      plain.destroy();
      this.#handle(this.#session.tlsFailed(error));
    }
  }
}

function tlsInfo(socket: TLSSocket): ClientTlsInfo {
  const info: ClientTlsInfo = {
    authorized: socket.authorized,
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? '',
    peerCertificate: socket.getPeerCertificate(true),
  };
  if (socket.authorizationError) info.authorizationError = String(socket.authorizationError);
  return info;
}
