import type { Command } from './command-parser';
import { MessageBody } from './message-body';
import type { Reply } from './reply';
import { formatReply, reply } from './reply-format';
import { type DecisionEvent, NEED_DATA, PAUSED, type ServerEvent } from './server-events';
import { TOO_MANY_ERRORS } from './server-replies';
import {
  COMMAND_STATES,
  SERVER_TRANSITIONS,
  type ServerState,
  type ServerTrigger,
  TRANSACTION_STATES,
} from './server-states';
import { SessionInput } from './session-input';
import { SmtpError } from './smtp-error';

/** What the machinery of a server session needs to know. */
export interface SessionCoreOptions {
  maxMessageSize: number;
  maxTextLine: number;
  maxErrors: number;
  onTransition: ((from: ServerState, trigger: ServerTrigger, to: ServerState) => void) | undefined;
}

/**
 * The machinery under `ServerSession`: the state and its one way of changing (`enter`, through
 * SERVER_TRANSITIONS), the event queue and the decision that awaits, and the reading of message
 * bodies (DATA until CRLF.CRLF, BDAT chunks, refused chunks read and dropped). `ServerSession`
 * adds the protocol on top: commands, decisions and their replies, AUTH, STARTTLS.
 */
export abstract class SessionCore {
  #state: ServerState = 'CONNECTED';
  readonly #onTransition: SessionCoreOptions['onTransition'];
  readonly #maxErrors: number;
  protected readonly input = new SessionInput();
  protected readonly queue: ServerEvent[] = [];
  protected readonly body: MessageBody;
  #head = 0;
  protected pending: DecisionEvent | null = null;
  protected pendingCommand: Command | null = null;
  protected errors = 0;
  protected recipients = 0;
  protected smtputf8 = false;
  #discardReply: Reply | null = null;
  #previousState: ServerState = 'READY';
  #leftover = false;

  constructor(options: SessionCoreOptions) {
    this.#onTransition = options.onTransition;
    this.#maxErrors = options.maxErrors;
    this.body = new MessageBody(options.maxMessageSize, options.maxTextLine, this.queue);
  }

  /** Reads one command line (or SASL response) and acts on it; false when no whole line is there. */
  protected abstract stepLine(): boolean;

  /** The current state (read-only); see `ServerState` and `SERVER_TRANSITIONS`. */
  get state(): ServerState {
    return this.#state;
  }

  /** The next event, NEED_DATA when more bytes are needed, or PAUSED while waiting for `send()`, `tlsStarted()` or after Closed. */
  nextEvent(): ServerEvent | typeof NEED_DATA | typeof PAUSED {
    for (;;) {
      if (this.#head < this.queue.length) {
        const event = this.queue[this.#head++]!;
        if (this.#head === this.queue.length) {
          this.queue.length = 0;
          this.#head = 0;
        }
        return event;
      }
      if (this.pending !== null || this.#state === 'CLOSED' || this.#state === 'TLS_HANDSHAKE') return PAUSED;
      if (!this.step()) {
        if (!this.input.peerClosed) return NEED_DATA;
        if (this.#state === 'DATA' || this.#state === 'BDAT') this.body.abort('closed');
        this.finish('peer-closed');
      }
    }
  }

  /** True between commands with nothing buffered: a good moment for a graceful 421. */
  get idle(): boolean {
    return (
      COMMAND_STATES.has(this.#state) && this.pending === null && !this.input.unread && this.#head >= this.queue.length
    );
  }

  /** True when the session closed with bytes from the peer still unread (e.g. commands after QUIT). */
  get closedWithInput(): boolean {
    return this.#leftover;
  }

  /** True once the session is over. */
  get closed(): boolean {
    return this.#state === 'CLOSED';
  }

  protected step(): boolean {
    switch (this.#state) {
      case 'DATA':
        return this.stepData();
      case 'BDAT':
      case 'BDAT_DISCARD':
        return this.stepChunk();
      default:
        return this.stepLine();
    }
  }

  protected stepData(): boolean {
    const input = this.input;
    const step = this.body.readData(input.buffer, input.offset);
    input.offset = step.consumed;
    if (this.body.farOverLimit) {
      // A body twice the limit is a flood, not a message that is a little too big: refuse it now
      // and close rather than read on to its end (RFC 5321 4.5.3.1.10 lets us refuse; 3.8 close).
      // Checked first, so that where the input was cut never changes the outcome.
      this.emitReply(reply(552, '5.3.4', 'Message size exceeds fixed maximum message size; closing connection'));
      this.finish('protocol-error');
    } else if (step.bareLineFeed) {
      // RFC 5321 2.3.8 and SMTP smuggling: never guess where such a message ends; close instead
      // of reading the rest as commands.
      this.emitReply(reply(521, '5.5.2', 'Bare LF in message data; closing connection (RFC 5321 2.3.8)'));
      this.finish('protocol-error');
    } else if (step.end) {
      this.endMessage();
    }
    return step.progressed;
  }

  protected stepChunk(): boolean {
    const input = this.input;
    if (!input.unread) return false;
    input.offset += this.body.readChunk(input.buffer, input.offset, this.#state === 'BDAT');
    if (this.body.chunkRemaining === 0) this.chunkDone();
    return true;
  }

  protected chunkDone(): void {
    if (this.#state === 'BDAT_DISCARD') {
      const refusal = this.#discardReply!;
      this.#discardReply = null;
      this.enter('ChunkDiscarded', this.#previousState);
      this.fail(refusal);
    } else if (this.body.chunkLast || this.body.aborted !== null) {
      this.endMessage();
    } else {
      this.emitReply(reply(250, '2.0.0', `${this.body.chunkSize} octets received`));
      this.enter('ChunkReceived');
    }
  }

  // RFC 3030 3: a refused BDAT's chunk is still read, so that its octets are never taken as commands.
  protected discardChunk(size: number, refusal: Reply): void {
    this.#previousState = this.#state;
    this.#discardReply = refusal;
    this.body.startChunk(size, false);
    this.enter('DiscardChunk');
    if (size === 0) this.chunkDone();
  }

  protected endMessage(): void {
    const refusal = this.body.endReply();
    if (refusal !== null) {
      this.emitReply(refusal);
      this.endTransaction('BodyRefused');
    } else {
      this.enter('BodyEnd');
      this.await({ type: 'MessageEnd', size: this.body.size }, null);
    }
  }

  protected endTransaction(trigger: 'MessageDone' | 'BodyRefused' | null): void {
    this.recipients = 0;
    this.smtputf8 = false;
    if (trigger !== null) this.enter(trigger);
  }

  // The move itself is the command's (HELO, EHLO, RSET: see SERVER_TRANSITIONS).
  protected resetTransaction(): void {
    if (TRANSACTION_STATES.has(this.#state)) {
      this.queue.push({ type: 'Reset' });
      this.endTransaction(null);
    }
  }

  // Every change of state goes through here and the table (h11's _state.py rule).
  protected enter(trigger: ServerTrigger, choice?: ServerState): void {
    const from = this.#state;
    const target = SERVER_TRANSITIONS[from][trigger];
    let to: ServerState | undefined;
    if (typeof target === 'string') to = target;
    else if (target !== undefined && choice !== undefined && target.includes(choice)) to = choice;
    if (to === undefined) {
      throw new SmtpError('SMTP_STATE', `server session: no transition from ${from} on ${trigger}`);
    }
    this.#state = to;
    this.#onTransition?.(from, trigger, to);
  }

  protected await(event: DecisionEvent, command: Command | null): void {
    this.queue.push(event);
    this.pending = event;
    this.pendingCommand = command;
  }

  /** The command line being answered, as it may be logged (AUTH without its credentials). */
  protected commandText: string | undefined;

  protected emitReply(value: Reply): void {
    this.queue.push({ type: 'Reply', reply: value, data: formatReply(value), command: this.commandText });
  }

  // A reply to a bad command; too many of them end the session (a client that does not speak SMTP).
  protected fail(value: Reply): true {
    this.emitReply(value);
    this.errors++;
    if (this.errors >= this.#maxErrors && this.#state !== 'CLOSED') {
      this.emitReply(TOO_MANY_ERRORS);
      this.finish('protocol-error');
    }
    return true;
  }

  // After a decision: too many bad commands end the session; returns the bytes of that end, if it came.
  protected tooManyErrors(): string {
    if (this.errors < this.#maxErrors) return '';
    this.finish('protocol-error');
    return formatReply(TOO_MANY_ERRORS);
  }

  protected finish(reason: 'quit' | 'peer-closed' | 'protocol-error' | 'rejected' | 'shutdown'): void {
    if (this.#state === 'CLOSED') return;
    this.enter(reason === 'quit' ? 'QUIT' : 'Close');
    this.pending = null;
    this.pendingCommand = null;
    this.#leftover = this.input.unread;
    this.input.clear();
    this.queue.push({ type: 'Closed', reason });
  }
}
