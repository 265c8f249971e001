import { type AuthStep, authFirstStep, authNextStep, chooseAuthMechanism } from './client-auth';
import { buildTransaction, type MessageEnvelope } from './client-commands';
import { describeReply, SmtpClientError } from './client-error';
import type { ClientEvent, ClientSessionOptions, ReplyWait } from './client-events';
import { type ClientState, type ClientTrigger, nextClientState } from './client-states';
import {
  isPositive,
  type Transaction,
  type TransactionExpected,
  transactionResult,
  transactionStep,
} from './client-transaction';
import { formatBdatCommand } from './data-encoder';
import { noExtensions, parseEhloReply, type ServerExtensions } from './ehlo-extensions';
import type { Reply } from './reply';
import { ReplyParser } from './reply-parser';
import { NEED_DATA } from './server-events';

export type {
  ClientEvent,
  ClientSessionOptions,
  ClientTlsMode,
  RecipientResult,
  ReplyWait,
  TransactionResult,
} from './client-events';
export type { ClientState, ClientTrigger } from './client-states';

type Expected =
  | { kind: 'greeting' | 'ehlo' | 'helo' | 'starttls' | 'rset' | 'quit' }
  | { kind: 'auth'; step: AuthStep }
  | TransactionExpected;

/** RFC 5321 4.5.3.2: which timeout covers the reply to each command. */
const REPLY_WAIT: Record<Expected['kind'], ReplyWait> = {
  greeting: 'greeting',
  ehlo: 'command',
  helo: 'command',
  starttls: 'command',
  auth: 'command',
  mail: 'mail',
  rcpt: 'rcpt',
  data: 'dataStart',
  dot: 'dataEnd',
  bdat: 'dataEnd',
  'abort-dot': 'dataEnd',
  rset: 'command',
  quit: 'command',
};

const CRLF = '\r\n';

/**
 * The client side of an SMTP session as a sans-IO state machine (RFC 5321 3, 4), called like the
 * server session (h11 style): `receiveData(bytes)` takes the server's bytes, `nextEvent()` returns
 * what to do next (or NEED_DATA), and the adapter reports what happened on the wire
 * (`tlsEstablished`, `endBody`, `connectionClosed`). For convenience `receive()` and each of those
 * calls also return the events they queued, so `nextEvent()` then has nothing left. It never
 * touches a socket or a timer; `awaiting` says which timeout the adapter should run. Every change
 * of `state` goes through `CLIENT_TRANSITIONS` (`client-states.ts`).
 */
export class ClientSession {
  readonly #options: ClientSessionOptions;
  readonly #parser: ReplyParser;
  #state: ClientState = 'GREETING';
  #events: ClientEvent[] = [];
  #expected: Expected[] = [{ kind: 'greeting' }];
  #extensions: ServerExtensions | undefined;
  #tlsActive: boolean;
  #authenticated = false;
  #transaction: Transaction | undefined;
  #messages = 0;
  #lastReply: Reply | undefined;
  #error: SmtpClientError | undefined;
  #failedWhileIdle = false;
  /** The server answered before the end of DATA, so the byte stream is out of step. */
  #desynchronized = false;

  constructor(options: ClientSessionOptions) {
    if (/[\s<>]/.test(options.name) || options.name === '') {
      throw new SmtpClientError('INVALID_OPTIONS', `not a valid EHLO name: ${JSON.stringify(options.name)}`);
    }
    this.#options = options;
    this.#parser = new ReplyParser(options);
    this.#tlsActive = options.tls === 'implicit';
  }

  /** The current state (read-only); see `ClientState` and `CLIENT_TRANSITIONS`. */
  get state(): ClientState {
    return this.#state;
  }
  /** The server's extensions from the latest EHLO (none after HELO), once known. */
  get extensions(): ServerExtensions | undefined {
    return this.#extensions;
  }
  /** The last reply received, for error reports. */
  get lastReply(): Reply | undefined {
    return this.#lastReply;
  }
  /** Why the session failed, once it has. */
  get error(): SmtpClientError | undefined {
    return this.#error;
  }
  /** True when the session failed between messages (closed, reset, 421): the next message gets SESSION_UNUSABLE. */
  get failedWhileIdle(): boolean {
    return this.#state === 'FAILED' && this.#failedWhileIdle;
  }
  /** True once TLS is up (implicit or after STARTTLS). */
  get tlsActive(): boolean {
    return this.#tlsActive;
  }
  /** True once AUTH succeeded. */
  get authenticated(): boolean {
    return this.#authenticated;
  }
  /** False once the server refused a BDAT chunk or answered mid-DATA: stop streaming the body. */
  get bodyWanted(): boolean {
    return this.#state === 'BODY' && this.#transaction?.bodyStopped === false;
  }
  /** The reply the session is waiting for, to pick a timeout; undefined while the adapter is sending a body or idle. */
  get awaiting(): ReplyWait | undefined {
    const head = this.#expected[0];
    return head && this.#state !== 'BODY' ? REPLY_WAIT[head.kind] : undefined;
  }

  /** Takes bytes from the server; the replies they complete become events for `nextEvent()`. */
  receiveData(data: Uint8Array): void {
    if (this.#isOver()) return;
    if (this.#state === 'TLS_HANDSHAKE') {
      this.#plaintextAfterStartTls();
      return;
    }
    let replies: Reply[];
    try {
      replies = this.#parser.push(data);
    } catch (error) {
      this.#fail(error as SmtpClientError);
      return;
    }
    for (const [index, reply] of replies.entries()) {
      this.#lastReply = reply;
      this.#onReply(reply);
      if (this.#isOver()) break;
      // Bytes after the 220 to STARTTLS were sent in the clear and could be injected (RFC 3207 5):
      // they must never be read as if they came over TLS.
      if ((this.#state as ClientState) === 'TLS_HANDSHAKE' && (index < replies.length - 1 || this.#parser.inProgress)) {
        this.#plaintextAfterStartTls();
        break;
      }
    }
  }

  /** The next thing to do, in order; NEED_DATA when nothing is left until more bytes or calls. */
  nextEvent(): ClientEvent | typeof NEED_DATA {
    return this.#events.shift() ?? NEED_DATA;
  }

  /** `receiveData()` and then every queued event. */
  receive(data: Uint8Array): ClientEvent[] {
    this.receiveData(data);
    return this.#drain();
  }

  /** The TLS handshake after STARTTLS succeeded: RFC 3207 4.2 says forget everything and EHLO again. */
  tlsEstablished(): ClientEvent[] {
    this.#require('TLS_HANDSHAKE', 'tlsEstablished');
    this.#tlsActive = true;
    this.#extensions = undefined;
    this.#enter('TlsEstablished');
    this.#send(`EHLO ${this.#options.name}`, { kind: 'ehlo' });
    return this.#drain();
  }

  /** The TLS handshake after STARTTLS failed. */
  tlsFailed(cause: unknown): ClientEvent[] {
    if (!this.#isOver()) {
      this.#fail(new SmtpClientError('TLS_FAILED', `TLS handshake failed: ${errorText(cause)}`, { cause }));
    }
    return this.#drain();
  }

  /**
   * Starts one message. Throws `SmtpClientError` (MESSAGE_TOO_BIG, SMTPUTF8_UNSUPPORTED,
   * INVALID_ENVELOPE) without sending anything when the server could not take it, and
   * SESSION_UNUSABLE when the session died while idle (closed by the server, its 421): then no
   * byte of this message was sent, and a fresh connection may take it.
   */
  startMessage(envelope: MessageEnvelope): ClientEvent[] {
    if (this.#state === 'FAILED' && this.#failedWhileIdle) throw this.#unusable(this.#error!);
    this.#require('READY', 'startMessage');
    const extensions = this.#extensions!;
    const commands = buildTransaction(envelope, extensions);
    const transaction: Transaction = {
      commands,
      pipelined: extensions.pipelining,
      bdat: extensions.chunking && extensions.pipelining && this.#options.chunking !== false,
      reused: this.#messages > 0,
      rcptReplies: [],
      bodyStopped: false,
      lastChunkSent: false,
    };
    this.#transaction = transaction;
    this.#enter('StartMessage');
    if (!transaction.pipelined) {
      this.#send(commands.mail, { kind: 'mail' });
      return this.#drain();
    }
    // RFC 2920 3.1: MAIL, every RCPT and DATA may go as one group; DATA must be last. BDAT waits for RCPT replies.
    const lines = [commands.mail, ...commands.rcpts.map((r) => r.line)];
    this.#expected.push({ kind: 'mail' }, ...commands.rcpts.map((_, index) => ({ kind: 'rcpt' as const, index })));
    if (!transaction.bdat) {
      lines.push('DATA');
      this.#expected.push({ kind: 'data' });
    }
    this.#events.push({ type: 'Send', data: Buffer.from(lines.join(CRLF) + CRLF, 'utf8'), text: lines.join(' | ') });
    return this.#drain();
  }

  /** DATA mode: the adapter has written the whole encoded body, terminator included. */
  endBody(): ClientEvent[] {
    if (this.#state !== 'BODY' && this.#desynchronized) return [];
    this.#require('BODY', 'endBody');
    this.#enter('BodySent');
    return this.#drain();
  }

  /** BDAT mode: frames one chunk (RFC 3030 2); write the returned bytes. Mark the last one. */
  bdatChunk(chunk: Uint8Array, last: boolean): ClientEvent[] {
    this.#require('BODY', 'bdatChunk');
    const transaction = this.#transaction!;
    if (!transaction.bdat || transaction.bodyStopped) return [];
    this.#expected.push({ kind: 'bdat', last });
    if (last) {
      transaction.lastChunkSent = true;
      this.#enter('BodySent');
    }
    const header = formatBdatCommand(chunk.length, last);
    this.#events.push({ type: 'Send', data: Buffer.concat([header, chunk]), text: header.toString('latin1').trim() });
    return this.#drain();
  }

  /** Ends the session politely (RFC 5321 4.1.1.10). Only between messages. */
  quit(): ClientEvent[] {
    if (this.#state === 'QUIT' || this.#isOver()) return [];
    this.#require('READY', 'quit');
    this.#enter('Quit');
    this.#send('QUIT', { kind: 'quit' });
    return this.#drain();
  }

  /** The connection ended. Expected after QUIT; anywhere else it fails the session. */
  connectionClosed(cause?: unknown): ClientEvent[] {
    if (this.#state === 'QUIT') {
      this.#enter('Closed');
      this.#events.push({ type: 'Closed' });
    } else if (!this.#isOver()) {
      const where = this.#expected[0]?.kind ?? this.#state.toLowerCase();
      const error = new SmtpClientError(
        'CONNECTION_CLOSED',
        `connection closed by the server while waiting for ${where}`,
        {
          reply: this.#lastReply,
          transient: true,
          cause,
        },
      );
      this.#fail(this.#staleBeforeMail() ? this.#unusable(error) : error);
    }
    return this.#drain();
  }

  #isOver(): boolean {
    return this.#state === 'FAILED' || this.#state === 'CLOSED';
  }

  #drain(): ClientEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #enter(trigger: ClientTrigger): void {
    const from = this.#state;
    this.#state = nextClientState(from, trigger);
    this.#options.onTransition?.(from, trigger, this.#state);
  }

  #require(state: ClientState, operation: string): void {
    if (this.#state !== state) {
      throw new SmtpClientError('INVALID_STATE', `${operation}() needs state ${state}, the session is ${this.#state}`, {
        cause: this.#error,
      });
    }
  }

  // A reused session that ends before its MAIL was accepted: the server took nothing of this message.
  #staleBeforeMail(): boolean {
    const transaction = this.#transaction;
    return this.#state === 'ENVELOPE' && transaction !== undefined && transaction.reused && !transaction.mailReply;
  }

  #unusable(cause: SmtpClientError): SmtpClientError {
    return new SmtpClientError(
      'SESSION_UNUSABLE',
      `session unusable, no recipient of this message was accepted; retry on a fresh connection (${cause.message})`,
      { reply: cause.reply, transient: true, cause },
    );
  }

  #plaintextAfterStartTls(): void {
    this.#fail(new SmtpClientError('PROTOCOL', 'server sent data in the clear after its 220 to STARTTLS'));
  }

  #send(text: string, expected: Expected, logText = text): void {
    this.#expected.push(expected);
    this.#events.push({ type: 'Send', data: Buffer.from(text + CRLF, 'utf8'), text: logText });
  }

  #fail(error: SmtpClientError): void {
    this.#failedWhileIdle = this.#state === 'READY';
    this.#enter('Fail');
    this.#error = error;
    this.#expected = [];
    this.#events.push({ type: 'Failed', error });
  }

  #failWithReply(
    code: 'GREETING_REJECTED' | 'HELO_REJECTED' | 'AUTH_FAILED' | 'TLS_FAILED' | 'PROTOCOL',
    what: string,
    reply: Reply,
  ): void {
    // Say goodbye when the server is still listening (RFC 5321 3.1 for a 554 greeting); no reply is awaited.
    if (reply.code !== 421) this.#events.push({ type: 'Send', data: Buffer.from('QUIT\r\n'), text: 'QUIT' });
    this.#fail(new SmtpClientError(code, `${what}: ${describeReply(reply)}`, { reply }));
  }

  #onReply(reply: Reply): void {
    const expected = this.#expected.shift();
    if (expected?.kind === 'quit') {
      this.#enter('Closed');
      this.#events.push({ type: 'Closed' });
      return;
    }
    // RFC 5321 3.8: 421 means the server is closing the channel, whatever we asked, even unasked (idle timeout).
    if (reply.code === 421) {
      const error = new SmtpClientError(
        'SERVICE_UNAVAILABLE',
        `server is closing the connection: ${describeReply(reply)}`,
        {
          reply,
        },
      );
      this.#fail(this.#staleBeforeMail() ? this.#unusable(error) : error);
      return;
    }
    if (!expected) {
      this.#fail(new SmtpClientError('PROTOCOL', `unexpected reply: ${describeReply(reply)}`, { reply }));
      return;
    }
    switch (expected.kind) {
      case 'greeting':
        if (reply.code !== 220) {
          this.#failWithReply('GREETING_REJECTED', 'greeting refused', reply);
          return;
        }
        this.#enter('Greeted');
        this.#send(`EHLO ${this.#options.name}`, { kind: 'ehlo' });
        return;
      case 'ehlo':
        if (isPositive(reply)) {
          this.#afterHello(parseEhloReply(reply));
          return;
        }
        // RFC 5321 4.1.4: a server that does not know EHLO answers 5xx; fall back to HELO.
        if (reply.code < 500) {
          this.#failWithReply('HELO_REJECTED', 'EHLO refused', reply);
          return;
        }
        this.#enter('HeloFallback');
        this.#send(`HELO ${this.#options.name}`, { kind: 'helo' });
        return;
      case 'helo':
        if (isPositive(reply)) {
          this.#afterHello(noExtensions(reply.lines[0] ?? ''));
          return;
        }
        this.#failWithReply('HELO_REJECTED', 'EHLO and HELO refused', reply);
        return;
      case 'starttls':
        if (reply.code === 220) {
          this.#enter('TlsAccepted');
          this.#events.push({ type: 'StartTls' });
          return;
        }
        if (this.#options.tls === 'required') {
          this.#failWithReply('TLS_FAILED', 'STARTTLS refused', reply);
          return;
        }
        // RFC 3207 4.1: opportunistic TLS may go on in the clear when STARTTLS is refused.
        this.#afterTls();
        return;
      case 'auth':
        this.#onAuthReply(expected.step, reply);
        return;
      case 'rset':
        if (!isPositive(reply)) {
          // The outcome of the message is known; only the session is lost.
          this.#events.push({ type: 'MessageDone', result: this.#endTransaction() });
          this.#failWithReply('PROTOCOL', 'RSET refused', reply);
          return;
        }
        this.#finishMessage();
        return;
      case 'mail':
      case 'rcpt':
      case 'data':
      case 'dot':
      case 'abort-dot':
      case 'bdat':
        this.#onTransactionReply(expected, reply);
        return;
    }
  }

  #afterHello(extensions: ServerExtensions): void {
    this.#extensions = extensions;
    const mode = this.#options.tls ?? 'opportunistic';
    if (!this.#tlsActive && (mode === 'opportunistic' || mode === 'required')) {
      if (extensions.startTls) {
        this.#enter('StartTls');
        this.#send('STARTTLS', { kind: 'starttls' });
        return;
      }
      if (mode === 'required') {
        this.#events.push({ type: 'Send', data: Buffer.from('QUIT\r\n'), text: 'QUIT' });
        this.#fail(new SmtpClientError('TLS_UNAVAILABLE', 'TLS is required and the server does not offer STARTTLS'));
        return;
      }
    }
    this.#afterTls();
  }

  #afterTls(): void {
    const auth = this.#options.auth;
    if (!auth || this.#authenticated) {
      this.#ready();
      return;
    }
    if (!this.#tlsActive && !auth.allowInsecure) {
      this.#fail(
        new SmtpClientError(
          'AUTH_UNAVAILABLE',
          'refusing to send credentials without TLS (set auth.allowInsecure to allow)',
        ),
      );
      return;
    }
    const mechanism = chooseAuthMechanism(this.#extensions!.auth, auth.method);
    if (!mechanism) {
      const offered = this.#extensions!.auth.join(' ') || 'none';
      this.#fail(new SmtpClientError('AUTH_UNAVAILABLE', `no usable AUTH mechanism (server offers: ${offered})`));
      return;
    }
    this.#enter('Authenticate');
    const first = authFirstStep(mechanism, auth);
    this.#send(first.line, { kind: 'auth', step: first.step }, first.logText);
  }

  #onAuthReply(step: AuthStep, reply: Reply): void {
    const next = authNextStep(step, reply, this.#options.auth!);
    if (next === 'done') {
      this.#authenticated = true;
      this.#ready();
      return;
    }
    if (next === 'failed') {
      this.#failWithReply('AUTH_FAILED', 'authentication failed', reply);
      return;
    }
    this.#enter('Authenticate');
    this.#send(next.line, { kind: 'auth', step: next.step }, next.logText);
  }

  #ready(): void {
    this.#enter('Ready');
    this.#events.push({ type: 'Ready', extensions: this.#extensions! });
  }

  #onTransactionReply(expected: TransactionExpected, reply: Reply): void {
    const transaction = this.#transaction!;
    const chunksPending = this.#expected.some((e) => e.kind === 'bdat');
    const step = transactionStep(transaction, expected, reply, this.#state === 'BODY', chunksPending);
    switch (step.kind) {
      case 'wait':
        return;
      case 'send':
        this.#send(step.line, step.expected);
        return;
      case 'body':
        this.#enter('SendBody');
        if (step.mode === 'data') this.#expected.push({ kind: 'dot' });
        this.#events.push({ type: 'SendBody', mode: step.mode });
        return;
      case 'end-empty':
        this.#expected.unshift({ kind: 'abort-dot' });
        this.#events.push({ type: 'Send', data: Buffer.from(`.${CRLF}`), text: '.' });
        return;
      case 'reset':
        this.#enter('Reset');
        this.#send('RSET', { kind: 'rset' });
        return;
      case 'done':
        this.#finishMessage();
        return;
      case 'desynchronised':
        // Nothing more goes to this server: whatever we wrote would land in a state we cannot name.
        this.#desynchronized = true;
        this.#events.push({ type: 'MessageDone', result: this.#endTransaction() });
        this.#fail(new SmtpClientError('PROTOCOL', `${step.reason}: ${describeReply(reply)}`, { reply }));
        return;
      case 'unusable':
        this.#fail(
          this.#unusable(new SmtpClientError('PROTOCOL', `${step.reason}: ${describeReply(reply)}`, { reply })),
        );
        return;
    }
  }

  #endTransaction() {
    const result = transactionResult(this.#transaction!);
    this.#transaction = undefined;
    this.#messages++;
    return result;
  }

  #finishMessage(): void {
    const result = this.#endTransaction();
    this.#enter('MessageDone');
    this.#events.push({ type: 'MessageDone', result });
  }
}

function errorText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
