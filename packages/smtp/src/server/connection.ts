import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { reply } from '../core/reply-format';
import { type Decision, type DecisionEvent, NEED_DATA, PAUSED } from '../core/server-events';
import { ServerSession } from '../core/server-session';
import { SmtpError } from '../core/smtp-error';
import { ConnectionClock, nextSerial, sessionIdOf } from './connection-clock';
import { ConnectionInfo } from './connection-info';
import { ACCEPT, callHook, HOOK_FAILED, isPromise, recordDecision, resetAfterTls, resetEnvelope } from './hook-calls';
import { MessageStream } from './message-stream';
import type { Logger, SessionInfo, SmtpServerHooks, SmtpServerLimits } from './options';
import { logCoreRefusal, logHandshakeTimeout, logHookRefusal } from './refusal-log';

/** What a connection needs from the server that owns it. */
export interface ConnectionContext {
  hostname: string;
  limits: SmtpServerLimits;
  hooks: SmtpServerHooks;
  auth: { mechanisms?: ('PLAIN' | 'LOGIN')[]; required?: boolean } | undefined;
  secureContext: SecureContext | undefined;
  logger: Logger | undefined;
  /** Called once per accepted message with its size. */
  onMessage(size: number): void;
  /** Called once when the connection is gone. */
  onClose(connection: Connection): void;
  /** Milliseconds on a monotonic clock, for timeouts. */
  now(): number;
}

/** The listener's own address and port, when it is bound to one address. */
export interface LocalEnd {
  address: string;
  port: number;
}

// Stop reading when this much reply data waits for a client that does not read it.
const MAX_PENDING_OUTPUT = 1024 * 1024;
// Why reading is stopped; the socket reads again only once none is left.
const HOOK_DECIDING = 1;
const BODY_BEHIND = 2;
const OUTPUT_BEHIND = 4;

/**
 * Binds one socket to one ServerSession: moves bytes in, writes replies out (one write per
 * pipelined group), runs hooks, upgrades to TLS, and answers the server's timeout sweep. The
 * protocol itself is all in the session.
 */
export class Connection {
  readonly info: SessionInfo;
  private readonly session: ServerSession;
  // Created on first use of `info.signal`: most sessions never need one, and it is not free.
  private abort: AbortController | undefined;
  private socket: Socket;
  // The peer's address and port: read at accept when given, else on first use (a getpeername(2)
  // that a server without hooks or logger never needs).
  private remote: { address: string; port: number } | undefined;
  private readonly accepted: Socket;
  // The session id is numbered at accept and formatted on first use (logs and hooks).
  private readonly serial = nextSerial();
  private id: string | undefined;
  private output = '';
  private waiting = false;
  private closing = false;
  private ended = false;
  private held = 0;
  // The last bytes given to the session live in a read buffer that the next read overwrites.
  private borrowed = false;
  private message: MessageStream | null = null;
  // Timeouts are checked by the server's sweep (`checkTimeouts`), not by a timer per connection.
  private readonly clock: ConnectionClock;
  // When the TLS handshake after STARTTLS began (our 220), while it lasts.
  private handshakeSince: number | undefined;
  private readonly onData = (chunk: Buffer) => this.receive(chunk, false);
  private readonly onEnd = () => {
    this.session.receiveData(new Uint8Array(0));
    this.pump();
  };
  private readonly onError = (error: Error) => {
    this.context.logger?.debug({ id: this.info.id, err: error }, 'smtp socket-error');
    this.destroy();
  };
  private readonly onClose = () => this.destroy();
  private readonly onBodyDrained = () => this.release(BODY_BEHIND);
  private readonly onOutputDrained = () => this.release(OUTPUT_BEHIND);

  /**
   * `borrowedReads`: the socket hands its bytes to `receive()` itself, from a read buffer it
   * reuses (the server's accept path); otherwise the connection listens for 'data'.
   */
  constructor(
    socket: Socket,
    secure: boolean,
    private readonly context: ConnectionContext,
    remoteAddress?: string,
    local?: LocalEnd,
    borrowedReads = false,
  ) {
    this.socket = socket;
    this.accepted = socket;
    if (remoteAddress !== undefined) this.remote = { address: remoteAddress, port: socket.remotePort ?? 0 };
    const { limits, hooks } = context;
    this.session = new ServerSession({
      hostname: context.hostname,
      maxMessageSize: limits.maxMessageSize,
      maxRecipients: limits.maxRecipients,
      maxCommandLine: limits.maxCommandLine,
      maxTextLine: limits.maxTextLine,
      maxErrors: limits.maxErrors,
      tlsAvailable: context.secureContext !== undefined,
      secure,
      auth: hooks.auth ? (context.auth ?? {}) : false,
    });
    this.info = new ConnectionInfo(
      this,
      local ? local.address : (socket.localAddress ?? ''),
      local ? local.port : (socket.localPort ?? 0),
      secure,
    );
    this.clock = new ConnectionClock(context.now());
    // The listener sets TCP_NODELAY at accept; replies go out as soon as they are written.
    this.attach(socket, !borrowedReads);
    socket.once('close', this.onClose);
  }

  /** Starts the session (greeting or connect hook); call once the server counts the connection. */
  start(): void {
    this.context.logger?.info({ id: this.info.id, address: this.info.remoteAddress }, 'smtp connected');
    this.pump();
  }

  /** Bytes from the client. `borrowed`: `chunk` is reused by the caller once this returns. */
  receive(chunk: Buffer, borrowed: boolean): void {
    this.clock.touch();
    this.session.receiveData(chunk);
    this.borrowed = borrowed;
    this.pump();
    if (borrowed) {
      this.session.retainInput();
      this.borrowed = false;
    }
  }

  /** Called by the server's sweep: closes a connection idle or open for too long (RFC 5321 4.5.3.2). */
  checkTimeouts(now: number): void {
    if (this.ended) return;
    const { limits, hostname, logger } = this.context;
    if (this.handshakeSince !== undefined) {
      // Inside a TLS handshake no SMTP reply can be sent: the socket is closed, the log says why.
      if (now - this.handshakeSince < limits.tlsHandshakeTimeoutMs) return;
      if (logger)
        logHandshakeTimeout(logger, this.info.id, this.remoteAddress, 'starttls', limits.tlsHandshakeTimeoutMs);
      this.destroy();
      return;
    }
    const due = this.clock.due(now, this.waiting || (this.held & BODY_BEHIND) !== 0, limits);
    if (due === 'session') this.shutdown(reply(421, '4.4.2', `${hostname} Session too long, closing connection`));
    else if (due === 'idle') this.shutdown(reply(421, '4.4.2', `${hostname} Idle timeout, closing connection`));
    else if (due === 'hook') {
      // A hook (a filter, the queue) that does not decide, or a data hook that stopped reading:
      // the client gets a temporary refusal before its own timer (RFC 5321 4.5.3.2) gives up.
      const waitingFor = this.waiting ? 'decision' : 'body';
      logger?.warn({ id: this.info.id, address: this.remoteAddress, waiting: waitingFor }, 'smtp hook-timeout');
      this.shutdown(reply(421, '4.3.0', `${hostname} Timed out processing the command, closing connection`));
    }
  }

  /** The peer's address (`info.remoteAddress`, read once). */
  get remoteAddress(): string {
    return this.peer().address;
  }

  /** The peer's port (`info.remotePort`). */
  get remotePort(): number {
    return this.peer().port;
  }

  /** The session id for logs and hooks (`info.id`). */
  sessionId(): string {
    if (this.id === undefined) this.id = sessionIdOf(this.serial);
    return this.id;
  }

  /** Aborts when the connection closes (`info.signal`). */
  signal(): AbortSignal {
    if (this.abort === undefined) {
      this.abort = new AbortController();
      if (this.ended) this.abort.abort();
    }
    return this.abort.signal;
  }

  /** True between commands: a graceful close may send 421 now. */
  get idle(): boolean {
    return this.session.idle && !this.waiting;
  }

  /** Asks the connection to close at the next moment between commands (server shutdown). */
  closeWhenIdle(): void {
    this.closing = true;
    if (this.idle) this.shutdown(reply(421, '4.3.2', `${this.context.hostname} Service shutting down`));
  }

  /** Sends `finalReply` and closes. */
  shutdown(finalReply: Parameters<ServerSession['shutdown']>[0]): void {
    if (this.ended) return;
    this.output += this.session.shutdown(finalReply);
    this.end();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.forget();
    this.socket.destroy();
  }

  private peer(): { address: string; port: number } {
    if (this.remote === undefined) {
      const socket = this.accepted;
      this.remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    }
    return this.remote;
  }

  private attach(socket: Socket, dataEvents: boolean): void {
    if (dataEvents) socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  private detach(socket: Socket): void {
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('error', this.onError);
  }

  // Stops reading for `reason` until `release(reason)`.
  private hold(reason: number): void {
    if (this.held === 0) this.socket.pause();
    this.held |= reason;
  }

  private release(reason: number): void {
    if ((this.held & reason) === 0) return;
    this.held &= ~reason;
    this.clock.touch();
    if (this.held === 0 && !this.ended) this.socket.resume();
  }

  // Runs the session until it needs bytes or waits for a hook; writes what it produced in one go.
  private pump(): void {
    if (this.waiting || this.ended) return;
    const session = this.session;
    for (;;) {
      const event = session.nextEvent();
      if (event === NEED_DATA || event === PAUSED) break;
      switch (event.type) {
        case 'Reply':
          this.output += event.data;
          if (this.context.logger && event.reply.code >= 500) {
            logCoreRefusal(this.context.logger, this.info, event.command, event.data);
          }
          break;
        case 'MessageData':
          // Back-pressure: stop reading while the data hook reads slower than the client sends.
          if (this.message?.push(this.borrowed ? Buffer.from(event.data) : event.data) === false) {
            this.hold(BODY_BEHIND);
          }
          break;
        case 'MessageStart':
          if (this.context.hooks.data) {
            const { hooks, logger } = this.context;
            this.message = new MessageStream(hooks.data!, this.info, event.mode, this.onBodyDrained, logger);
          }
          break;
        case 'MessageAborted':
          this.endMessage(new SmtpError('SMTP_MESSAGE_ABORTED', `the message was aborted: ${event.reason}`));
          this.info.tags = this.info.tags.filter((tag) => tag.phase !== 'data');
          break;
        case 'Reset':
          resetEnvelope(this.info);
          break;
        case 'Closed':
          this.end(event.reason === 'quit');
          return;
        default:
          if (!this.decide(event)) {
            this.flush();
            return;
          }
      }
    }
    if (this.closing && this.idle) {
      this.shutdown(reply(421, '4.3.2', `${this.context.hostname} Service shutting down`));
      return;
    }
    this.flush();
  }

  // Runs the hook for a decision event. Returns false when it went async (pump resumes later).
  private decide(event: DecisionEvent): boolean {
    let result: Decision | Promise<Decision>;
    if (event.type === 'MessageEnd') {
      result = this.message?.end() ?? ACCEPT;
      this.message = null;
    } else {
      try {
        result = callHook(this.context.hooks, this.info, event);
      } catch (error) {
        result = Promise.reject(error);
      }
    }
    if (!isPromise(result)) {
      this.apply(event, result);
      return true;
    }
    this.waiting = true;
    // Read nothing more while a hook decides: a client pipelining without end cannot grow our buffer.
    this.hold(HOOK_DECIDING);
    result
      .catch((error: unknown) => {
        this.context.logger?.error({ id: this.info.id, err: error, event: event.type }, 'smtp hook-failed');
        return HOOK_FAILED;
      })
      .then((decision) => {
        this.waiting = false;
        if (this.ended) return;
        this.release(HOOK_DECIDING);
        this.apply(event, decision);
        this.pump();
      });
    return false;
  }

  private apply(event: DecisionEvent, decision: Decision): void {
    if (this.ended) return;
    let out: string;
    try {
      out = this.session.send(decision);
    } catch (error) {
      // A hook gave a decision the session refuses (e.g. a reject with a 2xx code).
      this.context.logger?.error({ id: this.info.id, err: error, event: event.type }, 'smtp bad-decision');
      out = this.session.send(HOOK_FAILED);
      decision = HOOK_FAILED;
    }
    this.output += out;
    recordDecision(this.info, event, decision);
    if (decision.action === 'reject' && this.context.logger) {
      logHookRefusal(this.context.logger, this.info, event, this.session.lastCommand, out);
    } else if (event.type === 'MessageEnd') {
      this.context.onMessage(event.size);
    } else if (event.type === 'StartTls') {
      this.upgrade();
    }
  }

  // `null` means the connection closed; the error is made only when a body stream needs it.
  private endMessage(error: Error | null): void {
    if (this.message !== null) {
      this.message.abort(error ?? undefined);
      this.message = null;
    }
    this.release(BODY_BEHIND);
  }

  // RFC 3207: after our 220, the next bytes are the TLS handshake.
  private upgrade(): void {
    this.flush();
    const plain = this.socket;
    this.detach(plain);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.context.secureContext! });
    this.socket = secure;
    // RFC 3207 4.2 leaves the handshake's time to us: bounded by `tlsHandshakeTimeoutMs` from here.
    this.handshakeSince = this.context.now();
    secure.once('secure', () => {
      this.handshakeSince = undefined;
      this.clock.touch();
      this.session.tlsStarted();
      resetAfterTls(this.info);
      this.pump();
    });
    secure.once('close', this.onClose);
    this.attach(secure, true);
  }

  private flush(): void {
    if (this.output === '') return;
    // The client's turn starts with our reply: idle time counts from here at the earliest.
    this.clock.touch();
    const socket = this.socket;
    const ok = socket.write(this.output);
    this.output = '';
    if (!ok && socket.writableLength > MAX_PENDING_OUTPUT && (this.held & OUTPUT_BEHIND) === 0) {
      // The client sends commands but does not read our replies; wait for it.
      this.hold(OUTPUT_BEHIND);
      socket.once('drain', this.onOutputDrained);
    }
  }

  // Once only: the connection is over for the server (counted, hooks' signal aborted).
  private forget(): void {
    if (this.ended) return;
    this.ended = true;
    this.endMessage(null);
    this.abort?.abort();
    this.context.onClose(this);
  }

  // After QUIT (`quit`), once the 221 is with the kernel and nothing came after it, the socket is
  // closed at once, as smtp-sink and Postfix's smtpd do: a half-close would wait for the peer's
  // FIN, and most clients close with a reset that Node turns into an error per connection.
  private end(quit = false): void {
    this.flush();
    this.forget();
    const socket = this.socket;
    if (quit && socket.writableLength === 0 && !this.session.closedWithInput) {
      socket.destroy();
      return;
    }
    socket.end();
    // Do not wait forever for a peer that never closes its side.
    const timer = setTimeout(() => socket.destroy(), 5_000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}
