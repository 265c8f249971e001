import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { type SecureContext, TLSSocket } from 'node:tls';
import { reply } from '../core/reply-format';
import { type Decision, type DecisionEvent, NEED_DATA, PAUSED } from '../core/server-events';
import { ServerSession } from '../core/server-session';
import { SmtpError } from '../core/smtp-error';
import { ConnectionInfo } from './connection-info';
import type { Logger, SessionInfo, SmtpServerHooks, SmtpServerLimits } from './options';

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

const ACCEPT: Decision = { action: 'accept' };
// Session ids: a random prefix per process and a counter, cheaper than random bytes per connection.
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;
function nextSerial(): number {
  idCounter = (idCounter + 1) % 0x100000000;
  return idCounter;
}
const HOOK_FAILED: Decision = { action: 'reject', code: 451, enhanced: '4.3.0', text: 'Temporary server error' };
// Stop reading when this much reply data waits for a client that does not read it.
const MAX_PENDING_OUTPUT = 1024 * 1024;

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown })?.then === 'function';
}

/**
 * Binds one socket to one ServerSession: moves bytes in, writes replies out (one write per
 * pipelined group), runs hooks, upgrades to TLS, and enforces timeouts. The protocol itself is
 * all in the session.
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
  // The last bytes given to the session live in a read buffer that the next read overwrites.
  private borrowed = false;
  private body: Readable | null = null;
  private bodyPaused = false;
  private dataDecision: Promise<Decision> | null = null;
  // Timeouts are checked by the server's sweep (`checkTimeouts`), not by a timer per connection.
  private readonly startedAt: number;
  private idleSince: number;
  private active = false;
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
    const { limits } = context;
    this.session = new ServerSession({
      hostname: context.hostname,
      maxMessageSize: limits.messageSize,
      maxRecipients: limits.recipients,
      maxCommandLine: limits.commandLine,
      maxTextLine: limits.textLine,
      maxErrors: limits.errors,
      tlsAvailable: context.secureContext !== undefined,
      secure,
      auth: context.hooks.auth && context.auth !== undefined ? context.auth : context.hooks.auth ? {} : false,
    });
    this.info = new ConnectionInfo(
      this,
      local ? local.address : (socket.localAddress ?? ''),
      local ? local.port : (socket.localPort ?? 0),
      secure,
    );
    this.startedAt = context.now();
    this.idleSince = this.startedAt;
    // The listener sets TCP_NODELAY at accept; replies go out as soon as they are written.
    this.attach(socket, !borrowedReads);
    socket.once('close', this.onClose);
    context.logger?.info({ id: this.info.id, address: this.info.remoteAddress }, 'smtp connected');
    this.pump();
  }

  /** Bytes from the client. `borrowed`: `chunk` is reused by the caller once this returns. */
  receive(chunk: Buffer, borrowed: boolean): void {
    this.active = true;
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
    const { limits, hostname } = this.context;
    if (now - this.startedAt >= limits.sessionTimeout) {
      this.shutdown(reply(421, '4.4.2', `${hostname} Session too long, closing connection`));
    } else if (this.active || this.waiting || this.bodyPaused) {
      // Bytes came since the last sweep, or we are the ones waiting (a hook deciding or reading
      // the body slowly): not idle.
      this.active = false;
      this.idleSince = now;
    } else if (now - this.idleSince >= limits.idleTimeout) {
      this.shutdown(reply(421, '4.4.2', `${hostname} Idle timeout, closing connection`));
    }
  }

  /** The peer's address (read once). */
  get remoteAddress(): string {
    return this.peer().address;
  }

  private peer(): { address: string; port: number } {
    if (this.remote === undefined) {
      const socket = this.accepted;
      this.remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    }
    return this.remote;
  }

  /** Aborts when the connection closes (`info.signal`). */
  signal(): AbortSignal {
    if (this.abort === undefined) {
      this.abort = new AbortController();
      if (this.ended) this.abort.abort();
    }
    return this.abort.signal;
  }

  /** The session id for logs and hooks (`info.id`). */
  sessionId(): string {
    if (this.id === undefined) this.id = ID_PREFIX + this.serial.toString(16).padStart(8, '0');
    return this.id;
  }

  /** The peer's port (`info.remotePort`). */
  get remotePort(): number {
    return this.peer().port;
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
    this.endBody(null);
    this.end();
  }

  /** Drops the connection at once. */
  destroy(): void {
    if (!this.ended) {
      this.ended = true;
      this.endBody(null);
      this.abort?.abort();
      this.context.onClose(this);
    }
    this.socket.destroy();
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
            this.context.logger.info({ id: this.info.id, result: event.data.trimEnd() }, 'smtp failed-command');
          }
          break;
        case 'MessageData':
          if (
            this.body !== null &&
            !this.body.push(this.borrowed ? Buffer.from(event.data) : event.data) &&
            !this.bodyPaused
          ) {
            // Back-pressure: the data hook reads slower than the client sends.
            this.bodyPaused = true;
            this.socket.pause();
          }
          break;
        case 'MessageStart':
          this.startBody(event.mode);
          break;
        case 'MessageAborted':
          this.endBody(new SmtpError('SMTP_MESSAGE_ABORTED', `the message was aborted: ${event.reason}`));
          this.info.tags = this.info.tags.filter((tag) => tag.phase !== 'data');
          break;
        case 'Reset':
          this.resetEnvelope();
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
    try {
      result = this.runHook(event);
    } catch (error) {
      result = Promise.reject(error);
    }
    if (!isPromise(result)) {
      this.apply(event, result);
      return true;
    }
    this.waiting = true;
    // Read nothing more while a hook decides: a client pipelining without end cannot grow our buffer.
    const socket = this.socket;
    socket.pause();
    result
      .catch((error: unknown) => {
        this.context.logger?.error({ id: this.info.id, err: error, event: event.type }, 'smtp hook-failed');
        return HOOK_FAILED;
      })
      .then((decision) => {
        this.waiting = false;
        if (this.ended) return;
        if (!this.bodyPaused) socket.resume();
        this.apply(event, decision);
        this.pump();
      });
    return false;
  }

  private runHook(event: DecisionEvent): Decision | Promise<Decision> {
    const { hooks } = this.context;
    const info = this.info;
    switch (event.type) {
      case 'Connect':
        return hooks.connect ? hooks.connect(info) : ACCEPT;
      case 'Hello':
        return hooks.helo ? hooks.helo(info, { verb: event.verb, domain: event.domain }) : ACCEPT;
      case 'StartTls':
        return ACCEPT;
      case 'Authenticate':
        return hooks.auth
          ? hooks.auth(info, {
              mechanism: event.mechanism,
              username: event.username,
              password: event.password,
              authorizationId: event.authorizationId,
            })
          : { action: 'reject', code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' };
      case 'MailFrom':
        return hooks.mail ? hooks.mail(info, event.from, event.params) : ACCEPT;
      case 'RcptTo':
        return hooks.rcpt ? hooks.rcpt(info, event.to, event.params) : ACCEPT;
      case 'MessageEnd': {
        this.body?.push(null);
        this.body = null;
        const decision = this.dataDecision ?? ACCEPT;
        this.dataDecision = null;
        return decision;
      }
    }
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
    }
    this.output += out;
    const accepted = decision.action !== 'reject';
    if (decision.action === 'tag') {
      const phase = PHASES[event.type];
      this.info.tags.push({ phase, tag: decision.tag, reason: decision.reason });
    }
    if (!accepted) {
      if (this.context.logger) {
        this.context.logger.info({ id: this.info.id, event: event.type, result: out.trimEnd() }, 'smtp rejected');
      }
      if (event.type === 'MessageEnd') this.resetEnvelope();
      return;
    }
    switch (event.type) {
      case 'Hello':
        this.resetEnvelope();
        this.info.hello = { verb: event.verb, domain: event.domain };
        break;
      case 'Authenticate':
        this.info.user = event.username;
        break;
      case 'MailFrom':
        this.info.envelope.from = event.from;
        this.info.envelope.mailParams = event.params;
        break;
      case 'RcptTo':
        this.info.envelope.to.push({ mailbox: event.to, params: event.params });
        break;
      case 'MessageEnd':
        this.context.onMessage(event.size);
        this.resetEnvelope();
        break;
      case 'StartTls':
        this.upgrade();
        break;
    }
  }

  private startBody(mode: 'DATA' | 'BDAT'): void {
    const hook = this.context.hooks.data;
    if (hook === undefined) return;
    const body = new Readable({
      highWaterMark: 256 * 1024,
      read: () => {
        if (this.bodyPaused) {
          this.bodyPaused = false;
          this.socket.resume();
        }
      },
    });
    // A hook that stops reading early (it has decided) must not stall the connection.
    body.on('error', () => {});
    this.body = body;
    let result: Decision | Promise<Decision>;
    try {
      result = hook(this.info, { body, mode });
    } catch (error) {
      result = Promise.reject(error);
    }
    this.dataDecision = Promise.resolve(result)
      .then((decision) => {
        if (!body.readableEnded) body.resume();
        return decision;
      })
      .catch((error: unknown) => {
        this.context.logger?.error({ id: this.info.id, err: error }, 'smtp hook-failed');
        if (!body.destroyed) body.resume();
        return HOOK_FAILED;
      });
  }

  // `null` means the connection closed; the error is made only when a body stream needs it.
  private endBody(error: Error | null): void {
    if (this.body !== null) {
      this.body.destroy(
        error ?? new SmtpError('SMTP_CONNECTION_CLOSED', 'the connection closed before the end of the message'),
      );
      this.body = null;
    }
    this.dataDecision = null;
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.socket.resume();
    }
  }

  private resetEnvelope(): void {
    const info = this.info;
    const envelope = info.envelope;
    // An envelope that is still empty stays (no new object per HELO or message without one).
    if (envelope.from !== undefined || envelope.mailParams !== undefined || envelope.to.length > 0) {
      info.envelope = { from: undefined, mailParams: undefined, to: [] };
    }
    if (info.tags.length > 0) {
      info.tags = info.tags.filter((tag) => tag.phase === 'connect' || tag.phase === 'helo' || tag.phase === 'auth');
    }
  }

  // RFC 3207: after our 220, the next bytes are the TLS handshake.
  private upgrade(): void {
    this.flush();
    const plain = this.socket;
    this.detach(plain);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.context.secureContext! });
    this.socket = secure;
    secure.once('secure', () => {
      this.session.tlsStarted();
      this.info.secure = true;
      this.info.hello = undefined;
      this.info.user = undefined;
      this.info.tags = this.info.tags.filter((tag) => tag.phase === 'connect');
      this.resetEnvelope();
      this.pump();
    });
    secure.once('close', this.onClose);
    this.attach(secure, true);
  }

  private flush(): void {
    if (this.output === '') return;
    const ok = this.socket.write(this.output);
    this.output = '';
    if (!ok && this.socket.writableLength > MAX_PENDING_OUTPUT) {
      // The client sends commands but does not read our replies; wait for it.
      this.socket.pause();
      this.socket.once('drain', () => this.socket.resume());
    }
  }

  // After QUIT (`quit`), once the 221 is with the kernel and nothing came after it, the socket is
  // closed at once, as smtp-sink and Postfix's smtpd do: a half-close would wait for the peer's
  // FIN, and most clients close with a reset that Node turns into an error per connection.
  private end(quit = false): void {
    this.flush();
    if (!this.ended) {
      this.ended = true;
      this.endBody(null);
      this.abort?.abort();
      this.context.onClose(this);
    }
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

const PHASES = {
  Connect: 'connect',
  Hello: 'helo',
  StartTls: 'connect',
  Authenticate: 'auth',
  MailFrom: 'mail',
  RcptTo: 'rcpt',
  MessageEnd: 'data',
} as const;
