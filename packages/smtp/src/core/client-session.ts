import { buildTransaction, type MessageEnvelope } from './client-commands';
import { describeReply, SmtpClientError, sessionUnusable } from './client-error';
import {
  type ClientEvent,
  type ClientSessionOptions,
  type Expected,
  REPLY_WAIT,
  type ReplyWait,
} from './client-events';
import { type SetupExpected, setupStep } from './client-setup';
import { type ClientState, type ClientTrigger, nextClientState } from './client-states';
import {
  firstCommands,
  isPositive,
  openTransaction,
  type Transaction,
  type TransactionExpected,
  transactionResult,
  transactionStep,
} from './client-transaction';
import { formatBdatCommand } from './data-encoder';
import type { ServerExtensions } from './ehlo-extensions';
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
    if (/[\s<>]/.test(options.hostname) || options.hostname === '') {
      throw new SmtpClientError('INVALID_OPTIONS', `not a valid EHLO name: ${JSON.stringify(options.hostname)}`);
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
    this.#send(`EHLO ${this.#options.hostname}`, { kind: 'ehlo' });
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
    if (this.#state === 'FAILED' && this.#failedWhileIdle) throw sessionUnusable(this.#error!);
    this.#require('READY', 'startMessage');
    const bdat = this.#options.chunking !== false;
    const transaction = openTransaction(
      buildTransaction(envelope, this.#extensions!),
      this.#extensions!,
      bdat,
      this.#messages > 0,
    );
    this.#transaction = transaction;
    this.#enter('StartMessage');
    const { lines, expected } = firstCommands(transaction);
    this.#expected.push(...expected);
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
      this.#fail(this.#staleBeforeMail() ? sessionUnusable(error) : error);
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

  #enter(trigger: ClientTrigger): undefined {
    const from = this.#state;
    this.#state = nextClientState(from, trigger);
    this.#options.onTransition?.(from, trigger, this.#state);
  }

  #require(state: ClientState, operation: string): undefined {
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

  #plaintextAfterStartTls(): undefined {
    this.#fail(new SmtpClientError('PROTOCOL', 'server sent data in the clear after its 220 to STARTTLS'));
  }

  #send(text: string, expected: Expected, logText = text): undefined {
    this.#expected.push(expected);
    this.#events.push({ type: 'Send', data: Buffer.from(text + CRLF, 'utf8'), text: logText });
  }

  #fail(error: SmtpClientError): undefined {
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
  ): undefined {
    // Say goodbye when the server is still listening (RFC 5321 3.1 for a 554 greeting); no reply is awaited.
    if (reply.code !== 421) this.#events.push({ type: 'Send', data: Buffer.from('QUIT\r\n'), text: 'QUIT' });
    this.#fail(new SmtpClientError(code, `${what}: ${describeReply(reply)}`, { reply }));
  }

  #onReply(reply: Reply): undefined {
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
      return this.#fail(this.#staleBeforeMail() ? sessionUnusable(error) : error);
    }
    if (!expected)
      return this.#fail(new SmtpClientError('PROTOCOL', `unexpected reply: ${describeReply(reply)}`, { reply }));
    switch (expected.kind) {
      case 'rset':
        if (!isPositive(reply)) {
          // The outcome of the message is known; only the session is lost.
          this.#events.push({ type: 'MessageDone', result: this.#endTransaction() });
          return this.#failWithReply('PROTOCOL', 'RSET refused', reply);
        }
        return this.#finishMessage();
      case 'mail':
      case 'rcpt':
      case 'data':
      case 'dot':
      case 'abort-dot':
      case 'bdat':
        return this.#onTransactionReply(expected, reply);
      default:
        return this.#onSetupReply(expected, reply);
    }
  }

  #onSetupReply(expected: SetupExpected, reply: Reply): undefined {
    const step = setupStep(expected, reply, {
      options: this.#options,
      tlsActive: this.#tlsActive,
      authenticated: this.#authenticated,
      extensions: this.#extensions,
    });
    if (step.extensions) this.#extensions = step.extensions;
    switch (step.kind) {
      case 'send':
        this.#enter(step.trigger);
        return this.#send(step.line, step.expected, step.logText);
      case 'tls':
        this.#enter('TlsAccepted');
        this.#events.push({ type: 'StartTls' });
        return;
      case 'ready':
        this.#authenticated = step.authenticated;
        return this.#ready();
      case 'refused':
        return this.#failWithReply(step.code, step.what, reply);
      case 'fail':
        if (step.quit) this.#events.push({ type: 'Send', data: Buffer.from('QUIT\r\n'), text: 'QUIT' });
        return this.#fail(step.error);
    }
  }

  #ready(): undefined {
    this.#enter('Ready');
    this.#events.push({ type: 'Ready', extensions: this.#extensions! });
  }

  #onTransactionReply(expected: TransactionExpected, reply: Reply): undefined {
    const transaction = this.#transaction!;
    const chunksPending = this.#expected.some((e) => e.kind === 'bdat');
    const step = transactionStep(transaction, expected, reply, this.#state === 'BODY', chunksPending);
    switch (step.kind) {
      case 'wait':
        return;
      case 'send':
        return this.#send(step.line, step.expected);
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
        return this.#send('RSET', { kind: 'rset' });
      case 'done':
        return this.#finishMessage();
      case 'desynchronised':
        // Nothing more goes to this server: whatever we wrote would land in a state we cannot name.
        this.#desynchronized = true;
        this.#events.push({ type: 'MessageDone', result: this.#endTransaction() });
        return this.#fail(new SmtpClientError('PROTOCOL', `${step.reason}: ${describeReply(reply)}`, { reply }));
      case 'unusable':
        this.#fail(
          sessionUnusable(new SmtpClientError('PROTOCOL', `${step.reason}: ${describeReply(reply)}`, { reply })),
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

  #finishMessage(): undefined {
    const result = this.#endTransaction();
    this.#enter('MessageDone');
    this.#events.push({ type: 'MessageDone', result });
  }
}

function errorText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
