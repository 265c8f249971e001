import { type AuthStep, authFirstStep, authNextStep, chooseAuthMechanism } from './client-auth';
import { buildTransaction, type MessageEnvelope } from './client-commands';
import { describeReply, SmtpClientError } from './client-error';
import type { ClientEvent, ClientSessionOptions, ClientState, ReplyWait } from './client-events';
import { isPositive, type Transaction, transactionResult } from './client-transaction';
import { formatBdatCommand } from './data-encoder';
import { noExtensions, parseEhloReply, type ServerExtensions } from './ehlo-extensions';
import type { Reply } from './reply';
import { ReplyParser } from './reply-parser';

export type {
  ClientEvent,
  ClientSessionOptions,
  ClientState,
  ClientTlsMode,
  RecipientResult,
  ReplyWait,
  TransactionResult,
} from './client-events';

type Expected =
  | { kind: 'greeting' | 'ehlo' | 'helo' | 'starttls' | 'mail' | 'data' | 'dot' | 'abort-dot' | 'rset' | 'quit' }
  | { kind: 'auth'; step: AuthStep }
  | { kind: 'rcpt'; index: number }
  | { kind: 'bdat'; last: boolean };

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
const ok = isPositive;

/**
 * The client side of an SMTP session as a sans-IO state machine (RFC 5321 3, 4): feed it
 * the server's bytes with `receive()`, tell it what happened on the wire (`tlsEstablished`,
 * `endBody`, `connectionClosed`), and act on the events it returns. It never touches a
 * socket or a timer; `awaiting` says which timeout the adapter should run.
 */
export class ClientSession {
  readonly #options: ClientSessionOptions;
  readonly #parser: ReplyParser;
  #state: ClientState = 'GREETING';
  #expected: Expected[] = [{ kind: 'greeting' }];
  #extensions: ServerExtensions | undefined;
  #tlsActive: boolean;
  #authenticated = false;
  #transaction: Transaction | undefined;
  #lastReply: Reply | undefined;
  #error: SmtpClientError | undefined;
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
  get tlsActive(): boolean {
    return this.#tlsActive;
  }
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

  #isOver(): boolean {
    return this.#state === 'FAILED' || this.#state === 'CLOSED';
  }

  /** Takes bytes from the server; returns what to do about the replies they complete. */
  receive(data: Uint8Array): ClientEvent[] {
    if (this.#state === 'FAILED' || this.#state === 'CLOSED') return [];
    if (this.#state === 'TLS_HANDSHAKE') return this.#plaintextAfterStartTls();
    let replies: Reply[];
    try {
      replies = this.#parser.push(data);
    } catch (error) {
      return this.#fail(error as SmtpClientError);
    }
    const events: ClientEvent[] = [];
    for (const [index, reply] of replies.entries()) {
      this.#lastReply = reply;
      events.push(...this.#onReply(reply));
      if (this.#isOver()) break;
      // Bytes after the 220 to STARTTLS were sent in the clear and could be injected (RFC 3207 5):
      // they must never be read as if they came over TLS.
      if (this.#awaitingHandshake() && (index < replies.length - 1 || this.#parser.inProgress)) {
        events.push(...this.#plaintextAfterStartTls());
        break;
      }
    }
    return events;
  }

  #awaitingHandshake(): boolean {
    return this.#state === 'TLS_HANDSHAKE';
  }

  #plaintextAfterStartTls(): ClientEvent[] {
    return this.#fail(new SmtpClientError('PROTOCOL', 'server sent data in the clear after its 220 to STARTTLS'));
  }

  /** The TLS handshake after STARTTLS succeeded: RFC 3207 4.2 says forget everything and EHLO again. */
  tlsEstablished(): ClientEvent[] {
    this.#require('TLS_HANDSHAKE', 'tlsEstablished');
    this.#tlsActive = true;
    this.#extensions = undefined;
    return this.#ehlo();
  }

  /** The TLS handshake after STARTTLS failed. */
  tlsFailed(cause: unknown): ClientEvent[] {
    if (this.#isOver()) return [];
    return this.#fail(new SmtpClientError('TLS_FAILED', `TLS handshake failed: ${errorText(cause)}`, { cause }));
  }

  /**
   * Starts one message. Throws `SmtpClientError` (MESSAGE_TOO_BIG, SMTPUTF8_UNSUPPORTED,
   * INVALID_ENVELOPE) without sending anything when the server could not take it.
   */
  startMessage(envelope: MessageEnvelope): ClientEvent[] {
    this.#require('READY', 'startMessage');
    const extensions = this.#extensions!;
    const commands = buildTransaction(envelope, extensions);
    const transaction: Transaction = {
      commands,
      pipelined: extensions.pipelining,
      bdat: extensions.chunking && extensions.pipelining && this.#options.chunking !== false,
      rcptReplies: [],
      bodyStopped: false,
      lastChunkSent: false,
    };
    this.#transaction = transaction;
    this.#state = 'ENVELOPE';
    if (!transaction.pipelined) return [this.#send(commands.mail, { kind: 'mail' })];
    // RFC 2920 3.1: MAIL, every RCPT and DATA may go as one group; DATA must be last. BDAT waits for RCPT replies.
    const lines = [commands.mail, ...commands.rcpts.map((r) => r.line)];
    this.#expected.push({ kind: 'mail' }, ...commands.rcpts.map((_, index) => ({ kind: 'rcpt' as const, index })));
    if (!transaction.bdat) {
      lines.push('DATA');
      this.#expected.push({ kind: 'data' });
    }
    return [{ type: 'Send', data: Buffer.from(lines.join(CRLF) + CRLF, 'utf8'), text: lines.join(' | ') }];
  }

  /** DATA mode: the adapter has written the whole encoded body, terminator included. */
  endBody(): ClientEvent[] {
    if (this.#state !== 'BODY' && this.#desynchronized) return [];
    this.#require('BODY', 'endBody');
    this.#state = 'BODY_SENT';
    return [];
  }

  /** BDAT mode: frames one chunk (RFC 3030 2); write the returned bytes. Mark the last one. */
  bdatChunk(chunk: Uint8Array, last: boolean): ClientEvent[] {
    this.#require('BODY', 'bdatChunk');
    const transaction = this.#transaction!;
    if (!transaction.bdat || transaction.bodyStopped) return [];
    this.#expected.push({ kind: 'bdat', last });
    if (last) {
      transaction.lastChunkSent = true;
      this.#state = 'BODY_SENT';
    }
    const header = formatBdatCommand(chunk.length, last);
    return [{ type: 'Send', data: Buffer.concat([header, chunk]), text: header.toString('latin1').trim() }];
  }

  /** Ends the session politely (RFC 5321 4.1.1.10). Only between messages. */
  quit(): ClientEvent[] {
    if (this.#state === 'QUIT' || this.#state === 'CLOSED' || this.#state === 'FAILED') return [];
    this.#require('READY', 'quit');
    this.#state = 'QUIT';
    return [this.#send('QUIT', { kind: 'quit' })];
  }

  /** The connection ended. Expected after QUIT; anywhere else it fails the session. */
  connectionClosed(cause?: unknown): ClientEvent[] {
    if (this.#state === 'QUIT') {
      this.#state = 'CLOSED';
      return [{ type: 'Closed' }];
    }
    if (this.#state === 'CLOSED' || this.#state === 'FAILED') return [];
    const where = this.#expected[0]?.kind ?? this.#state.toLowerCase();
    return this.#fail(
      new SmtpClientError('CONNECTION_CLOSED', `connection closed by the server while waiting for ${where}`, {
        reply: this.#lastReply,
        transient: true,
        cause,
      }),
    );
  }

  #require(state: ClientState, operation: string): void {
    if (this.#state !== state) {
      throw new SmtpClientError('INVALID_STATE', `${operation}() needs state ${state}, the session is ${this.#state}`, {
        cause: this.#error,
      });
    }
  }

  #send(text: string, expected: Expected, logText = text): ClientEvent {
    this.#expected.push(expected);
    return { type: 'Send', data: Buffer.from(text + CRLF, 'utf8'), text: logText };
  }

  #fail(error: SmtpClientError): ClientEvent[] {
    this.#state = 'FAILED';
    this.#error = error;
    this.#expected = [];
    return [{ type: 'Failed', error }];
  }

  #failWithReply(
    code: 'GREETING_REJECTED' | 'HELO_REJECTED' | 'AUTH_FAILED' | 'TLS_FAILED' | 'PROTOCOL',
    what: string,
    reply: Reply,
  ): ClientEvent[] {
    const events: ClientEvent[] = [];
    // Say goodbye when the server is still listening (RFC 5321 3.1 for a 554 greeting); no reply is awaited.
    if (reply.code !== 421) events.push({ type: 'Send', data: Buffer.from('QUIT\r\n'), text: 'QUIT' });
    events.push(...this.#fail(new SmtpClientError(code, `${what}: ${describeReply(reply)}`, { reply })));
    return events;
  }

  #ehlo(): ClientEvent[] {
    this.#state = 'EHLO';
    return [this.#send(`EHLO ${this.#options.name}`, { kind: 'ehlo' })];
  }

  #onReply(reply: Reply): ClientEvent[] {
    const expected = this.#expected.shift();
    if (expected?.kind === 'quit') {
      this.#state = 'CLOSED';
      return [{ type: 'Closed' }];
    }
    // RFC 5321 3.8: 421 means the server is closing the channel, whatever we asked, even unasked (idle timeout).
    if (reply.code === 421) {
      return this.#fail(
        new SmtpClientError('SERVICE_UNAVAILABLE', `server is closing the connection: ${describeReply(reply)}`, {
          reply,
        }),
      );
    }
    if (!expected) {
      return this.#fail(new SmtpClientError('PROTOCOL', `unexpected reply: ${describeReply(reply)}`, { reply }));
    }
    switch (expected.kind) {
      case 'greeting':
        return reply.code === 220 ? this.#ehlo() : this.#failWithReply('GREETING_REJECTED', 'greeting refused', reply);
      case 'ehlo':
        if (ok(reply)) return this.#afterHello(parseEhloReply(reply));
        // RFC 5321 4.1.4: a server that does not know EHLO answers 5xx; fall back to HELO.
        if (reply.code >= 500) return [this.#send(`HELO ${this.#options.name}`, { kind: 'helo' })];
        return this.#failWithReply('HELO_REJECTED', 'EHLO refused', reply);
      case 'helo':
        return ok(reply)
          ? this.#afterHello(noExtensions(reply.lines[0] ?? ''))
          : this.#failWithReply('HELO_REJECTED', 'EHLO and HELO refused', reply);
      case 'starttls':
        if (reply.code === 220) {
          this.#state = 'TLS_HANDSHAKE';
          return [{ type: 'StartTls' }];
        }
        if (this.#options.tls === 'required') return this.#failWithReply('TLS_FAILED', 'STARTTLS refused', reply);
        // RFC 3207 4.1: opportunistic TLS may go on in the clear when STARTTLS is refused.
        return this.#afterTls();
      case 'auth':
        return this.#onAuthReply(expected.step, reply);
      case 'mail':
      case 'rcpt':
      case 'data':
      case 'dot':
      case 'abort-dot':
      case 'bdat':
        return this.#onTransactionReply(expected, reply);
      case 'rset':
        if (!ok(reply)) return this.#failWithReply('PROTOCOL', 'RSET refused', reply);
        return this.#finishMessage();
    }
  }

  #afterHello(extensions: ServerExtensions): ClientEvent[] {
    this.#extensions = extensions;
    const mode = this.#options.tls ?? 'opportunistic';
    if (!this.#tlsActive && (mode === 'opportunistic' || mode === 'required')) {
      if (extensions.startTls) {
        this.#state = 'STARTTLS';
        return [this.#send('STARTTLS', { kind: 'starttls' })];
      }
      if (mode === 'required') {
        return [
          { type: 'Send', data: Buffer.from('QUIT\r\n'), text: 'QUIT' },
          ...this.#fail(
            new SmtpClientError('TLS_UNAVAILABLE', 'TLS is required and the server does not offer STARTTLS'),
          ),
        ];
      }
    }
    return this.#afterTls();
  }

  #afterTls(): ClientEvent[] {
    const auth = this.#options.auth;
    if (!auth || this.#authenticated) return this.#ready();
    if (!this.#tlsActive && !auth.allowInsecure) {
      return this.#fail(
        new SmtpClientError(
          'AUTH_UNAVAILABLE',
          'refusing to send credentials without TLS (set auth.allowInsecure to allow)',
        ),
      );
    }
    const mechanism = chooseAuthMechanism(this.#extensions!.auth, auth.method);
    if (!mechanism) {
      const offered = this.#extensions!.auth.join(' ') || 'none';
      return this.#fail(
        new SmtpClientError('AUTH_UNAVAILABLE', `no usable AUTH mechanism (server offers: ${offered})`),
      );
    }
    this.#state = 'AUTH';
    const first = authFirstStep(mechanism, auth);
    return [this.#send(first.line, { kind: 'auth', step: first.step }, first.logText)];
  }

  #onAuthReply(step: AuthStep, reply: Reply): ClientEvent[] {
    const next = authNextStep(step, reply, this.#options.auth!);
    if (next === 'done') {
      this.#authenticated = true;
      return this.#ready();
    }
    if (next === 'failed') return this.#failWithReply('AUTH_FAILED', 'authentication failed', reply);
    return [this.#send(next.line, { kind: 'auth', step: next.step }, next.logText)];
  }

  #ready(): ClientEvent[] {
    this.#state = 'READY';
    return [{ type: 'Ready', extensions: this.#extensions! }];
  }

  #onTransactionReply(expected: Expected, reply: Reply): ClientEvent[] {
    const transaction = this.#transaction!;
    const { commands } = transaction;
    const mailOk = () => transaction.mailReply !== undefined && ok(transaction.mailReply);
    const anyAccepted = () => mailOk() && transaction.rcptReplies.some(ok);
    switch (expected.kind) {
      case 'mail':
        transaction.mailReply = reply;
        if (transaction.pipelined) return [];
        if (!ok(reply)) return this.#reset();
        return [this.#send(commands.rcpts[0]!.line, { kind: 'rcpt', index: 0 })];
      case 'rcpt': {
        transaction.rcptReplies[expected.index] = reply;
        const next = expected.index + 1;
        if (next < commands.rcpts.length) {
          return transaction.pipelined ? [] : [this.#send(commands.rcpts[next]!.line, { kind: 'rcpt', index: next })];
        }
        if (!anyAccepted()) return transaction.pipelined && !transaction.bdat ? [] : this.#reset();
        if (transaction.bdat) return this.#startBody('bdat');
        return transaction.pipelined ? [] : [this.#send('DATA', { kind: 'data' })];
      }
      case 'data':
        if (reply.code === 354) {
          if (anyAccepted()) return this.#startBody('data');
          // RFC 2920 3.1: DATA went through although no recipient did; send an empty message's end and forget it.
          this.#expected.unshift({ kind: 'abort-dot' });
          return [{ type: 'Send', data: Buffer.from(`.${CRLF}`), text: '.' }];
        }
        if (anyAccepted()) transaction.dataReply = reply;
        return this.#reset();
      case 'abort-dot':
        return this.#reset();
      case 'dot': {
        transaction.dataReply = reply;
        if (this.#state === 'BODY') {
          // The server answered before we finished the body; what we still write would be read as commands.
          transaction.bodyStopped = true;
          this.#desynchronized = true;
          const done = this.#finishMessage();
          return [
            ...done,
            ...this.#fail(
              new SmtpClientError('PROTOCOL', `server replied before the end of data: ${describeReply(reply)}`, {
                reply,
              }),
            ),
          ];
        }
        return this.#finishMessage();
      }
      case 'bdat': {
        if (!ok(reply) && !transaction.bodyStopped) {
          transaction.dataReply = reply;
          transaction.bodyStopped = true;
        } else if (expected.last && ok(reply)) {
          transaction.dataReply = reply;
        }
        const chunksPending = this.#expected.some((e) => e.kind === 'bdat');
        if (chunksPending || (!transaction.bodyStopped && !expected.last)) return [];
        // RFC 3030 2: after a refused chunk the transaction is void; RSET puts both sides back in step.
        return transaction.bodyStopped ? this.#reset() : this.#finishMessage();
      }
      default:
        return [];
    }
  }

  #startBody(mode: 'data' | 'bdat'): ClientEvent[] {
    this.#state = 'BODY';
    if (mode === 'data') this.#expected.push({ kind: 'dot' });
    return [{ type: 'SendBody', mode }];
  }

  #reset(): ClientEvent[] {
    this.#state = 'RSET';
    return [this.#send('RSET', { kind: 'rset' })];
  }

  #finishMessage(): ClientEvent[] {
    const transaction = this.#transaction!;
    this.#transaction = undefined;
    this.#state = 'READY';
    return [{ type: 'MessageDone', result: transactionResult(transaction) }];
  }
}

function errorText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
