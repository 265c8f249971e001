import { parseCommand } from './command-parser';
import { decisionProblem } from './decision-check';
import type { Reply } from './reply';
import { formatReply, reply } from './reply-format';
import { type AuthMechanism, SaslExchange, type SaslStep } from './sasl';
import type { Decision } from './server-events';
import {
  BYE,
  DATA_OK,
  decisionReply,
  defaultGreeting,
  ehloReply,
  isPlainAccept,
  MAIL_OK,
  OK,
  RCPT_OK,
  START_DATA,
} from './server-replies';
import { SessionCore } from './server-session-core';
import { SERVER_TRANSITIONS, type ServerState, type ServerTrigger } from './server-states';
import { MAX_AUTH_LINE } from './session-input';
import { SmtpError } from './smtp-error';

/** Options of a server session; every limit has a safe default. */
export interface ServerSessionOptions {
  /** Our host name, in the greeting and the EHLO reply. Default `localhost`. */
  hostname?: string;
  /** Largest message in octets, announced with SIZE (RFC 1870); 0 for no limit. Default 25 MiB. */
  maxMessageSize?: number;
  /** Most recipients per message (RFC 5321 4.5.3.1.8 asks for at least 100). Default 100. */
  maxRecipients?: number;
  /** Longest command line with CRLF (RFC 5321 4.5.3.1.4). Default 512. */
  maxCommandLine?: number;
  /** Longest text line in DATA with CRLF (RFC 5321 4.5.3.1.6); 0 for no limit. Default 1000. */
  maxTextLine?: number;
  /** Bad commands before `421 4.7.0` and close. Default 10. */
  maxErrors?: number;
  /** Offer STARTTLS (the adapter has a certificate). Default false. */
  tlsAvailable?: boolean;
  /** The connection is already TLS (implicit TLS, RFC 8314). Default false. */
  secure?: boolean;
  /** AUTH: false (default) or which mechanisms, and whether MAIL needs it. Offered only under TLS. */
  auth?: false | { mechanisms?: AuthMechanism[]; required?: boolean };
  /** Called on every change of state with the trigger that caused it (tracing, tests). */
  onTransition?: (from: ServerState, trigger: ServerTrigger, to: ServerState) => void;
}

/**
 * The server side of an SMTP session as a state machine without I/O (h11-style):
 * `receiveData(bytes)` buffers, `nextEvent()` returns events, `send(decision)` answers the event
 * that awaits one and returns the bytes to write. Transitions are in `server-states.ts`; the
 * machinery (state, event queue, message bodies) is in `server-session-core.ts`.
 */
export class ServerSession extends SessionCore {
  #secure: boolean;
  #user: string | undefined;
  #hello: { verb: 'HELO' | 'EHLO'; domain: string } | undefined;
  #exchange: SaslExchange | null = null;
  private readonly hostname: string;
  private readonly maxMessageSize: number;
  private readonly maxRecipients: number;
  private readonly maxCommandLine: number;
  private readonly tlsAvailable: boolean;
  private readonly auth: { mechanisms: AuthMechanism[]; required: boolean } | undefined;

  constructor(options: ServerSessionOptions = {}) {
    const maxMessageSize = options.maxMessageSize ?? 25 * 1024 * 1024;
    super({
      maxMessageSize,
      maxTextLine: options.maxTextLine ?? 1000,
      maxErrors: options.maxErrors ?? 10,
      onTransition: options.onTransition,
    });
    this.hostname = options.hostname ?? 'localhost';
    this.maxMessageSize = maxMessageSize;
    this.maxRecipients = options.maxRecipients ?? 100;
    this.maxCommandLine = options.maxCommandLine ?? 512;
    this.tlsAvailable = options.tlsAvailable ?? false;
    this.#secure = options.secure ?? false;
    this.auth = options.auth
      ? { mechanisms: options.auth.mechanisms ?? ['PLAIN', 'LOGIN'], required: options.auth.required ?? false }
      : undefined;
    this.await({ type: 'Connect' }, null);
  }

  /** True once the connection is TLS (implicit, or after `tlsStarted()`). */
  get secure(): boolean {
    return this.#secure;
  }
  /** The authenticated user, once AUTH succeeded. */
  get user(): string | undefined {
    return this.#user;
  }
  /** The HELO/EHLO name, once accepted. */
  get hello(): { verb: 'HELO' | 'EHLO'; domain: string } | undefined {
    return this.#hello;
  }

  /** Buffers bytes from the peer; an empty array means the peer closed its side. */
  receiveData(bytes: Uint8Array): void {
    if (bytes.length > 0 && (this.state === 'CLOSED' || this.state === 'TLS_HANDSHAKE')) return;
    this.input.receive(bytes);
  }

  /**
   * Copies the bytes it still holds from `receiveData()` into memory of its own, so that the caller
   * may reuse the array it gave (e.g. one read buffer for every socket). Events already returned
   * keep pointing into the caller's array.
   */
  retainInput(): void {
    this.input.retain();
  }

  /** Answers the event that awaits a decision; returns the bytes to write. */
  send(decision: Decision): string {
    const event = this.pending;
    if (event === null) {
      throw new SmtpError('SMTP_LOCAL_PROTOCOL', 'send() was called but no event awaits a decision');
    }
    // A decision whose code disagrees with its action is the caller's error: refused before
    // anything changes, so the caller can still answer with another decision.
    const problem = decisionProblem(event, decision);
    if (problem !== null) throw new SmtpError('SMTP_LOCAL_PROTOCOL', problem);
    const command = this.pendingCommand;
    this.pending = null;
    this.pendingCommand = null;
    const accepted = decision.action !== 'reject';
    const plain = isPlainAccept(decision);
    const answer = (code: number, enhanced: string | undefined, fallback: string) =>
      decisionReply(decision, code, enhanced, fallback);
    let out: string;
    switch (event.type) {
      case 'Connect':
        if (accepted) {
          // RFC 2034: no enhanced status code in the greeting.
          out = plain
            ? defaultGreeting(this.hostname)
            : decisionReply(decision, 220, undefined, `${this.hostname} ESMTP ready`);
          this.enter('ConnectAccepted');
        } else {
          out = answer(554, undefined, '');
          this.enter('ConnectRejected');
        }
        break;
      case 'Hello':
        if (accepted) {
          this.#hello = { verb: event.verb, domain: event.domain };
          this.enter('HelloAccepted');
          out = this.helloReply(event.verb, decision.text ?? `${this.hostname} greets ${event.domain}`);
        } else out = answer(550, undefined, '');
        break;
      case 'StartTls':
        out = answer(220, '2.0.0', 'Ready to start TLS');
        if (accepted) {
          // RFC 3207 5 and CVE-2011-0411: bytes pipelined after STARTTLS came in clear; drop them.
          this.input.clear();
          this.enter('StartTlsAccepted');
        }
        break;
      case 'Authenticate':
        if (accepted) {
          this.#user = event.username;
          out = answer(235, '2.7.0', 'Authentication successful');
        } else {
          out = answer(535, '5.7.8', '');
          this.errors++;
        }
        this.#exchange = null;
        this.enter('AuthDone');
        break;
      case 'MailFrom':
        out = plain ? MAIL_OK : answer(250, '2.1.0', 'OK');
        if (accepted && command?.verb === 'MAIL') {
          this.smtputf8 = command.params.smtputf8;
          this.enter('MailAccepted');
        }
        break;
      case 'RcptTo':
        out = plain ? RCPT_OK : answer(250, '2.1.5', 'OK');
        if (accepted) {
          this.recipients++;
          this.enter('RcptAccepted');
        }
        break;
      case 'MessageEnd':
        out = plain ? DATA_OK : answer(250, '2.0.0', 'OK');
        this.endTransaction('MessageDone');
        break;
    }
    // RFC 5321 3.8: after a 421 the server closes the session.
    if (decision.action === 'reject' && decision.code === 421) this.finish('rejected');
    else out += this.tooManyErrors();
    return out;
  }

  /** Call when the TLS handshake after an accepted STARTTLS is done: RFC 3207 4.2 resets the session. */
  tlsStarted(): void {
    if (this.state !== 'TLS_HANDSHAKE') {
      throw new SmtpError(
        'SMTP_LOCAL_PROTOCOL',
        `tlsStarted() in state ${this.state}; it must follow an accepted STARTTLS`,
      );
    }
    this.#secure = true;
    this.#hello = undefined;
    this.#user = undefined;
    this.enter('TlsStarted');
  }

  /** Ends the session from our side with `finalReply` (e.g. `421 4.4.2` on a timeout); returns the bytes to write. */
  shutdown(finalReply?: Reply): string {
    if (this.state === 'CLOSED') return '';
    if (this.state === 'DATA' || this.state === 'BDAT') this.body.abort('closed');
    this.finish('shutdown');
    return finalReply === undefined ? '' : formatReply(finalReply);
  }

  // ---- internals: one step of input processing per state ----

  protected stepLine(): boolean {
    const authing = this.state === 'AUTH';
    const line = this.input.readLine(authing ? MAX_AUTH_LINE : this.maxCommandLine, this.state === 'READY');
    if (line === null) return false;
    if (typeof line !== 'string') {
      if (!authing) this.commandText = '(line too long)';
      return this.fail(line);
    }
    // A SASL response line is a credential: the command stays the AUTH that started the exchange.
    if (authing) this.onSaslStep(this.#exchange!.respond(line));
    else {
      this.commandText = loggableCommand(line);
      this.onCommand(line);
    }
    return true;
  }

  /** The last command line, as it may be logged: AUTH with its mechanism only, at most 200 characters. */
  get lastCommand(): string | undefined {
    return this.commandText;
  }

  private onCommand(line: string): void {
    const parsed = parseCommand(line);
    if (!parsed.ok) {
      this.fail(parsed.reply);
      return;
    }
    const command = parsed.command;
    if (SERVER_TRANSITIONS[this.state][command.verb] === undefined) {
      const refusal =
        this.state === 'REJECTED'
          ? reply(503, '5.7.0', 'Rejected at connection; only QUIT is accepted')
          : reply(503, '5.5.1', 'Bad sequence of commands');
      if (command.verb === 'BDAT') this.discardChunk(command.size, refusal);
      else this.fail(refusal);
      return;
    }
    // HELO/EHLO and RSET end a transaction (RFC 5321 4.1.4, 4.1.1.5): say so before the move.
    if (command.verb === 'HELO' || command.verb === 'EHLO' || command.verb === 'RSET') this.resetTransaction();
    // QUIT's move is the session's end (finish); every other allowed command moves here.
    const from = this.state;
    if (command.verb !== 'QUIT') this.enter(command.verb);
    switch (command.verb) {
      case 'HELO':
      case 'EHLO':
        this.await({ type: 'Hello', verb: command.verb, domain: command.domain }, command);
        return;
      case 'MAIL':
        if (this.auth?.required && this.#user === undefined) {
          this.fail(reply(530, '5.7.0', 'Authentication required'));
        } else if (
          command.params.size !== undefined &&
          this.maxMessageSize > 0 &&
          command.params.size > this.maxMessageSize
        ) {
          // RFC 1870 6.1: a declared size over our limit gets 552.
          this.emitReply(reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
        } else if (command.from?.utf8 && !command.params.smtputf8) {
          // RFC 6531 3.7.4.1 (553 5.6.7): a non-ASCII address needs SMTPUTF8.
          this.emitReply(reply(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8'));
        } else {
          this.await({ type: 'MailFrom', from: command.from, params: command.params }, command);
        }
        return;
      case 'RCPT':
        if (this.recipients >= this.maxRecipients) {
          // RFC 5321 4.5.3.1.10: 452 for too many recipients; the client retries the rest later.
          this.emitReply(reply(452, '4.5.3', 'Too many recipients'));
        } else if (command.to.utf8 && !this.smtputf8) {
          this.emitReply(reply(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8'));
        } else {
          this.await({ type: 'RcptTo', to: command.to, params: command.params }, command);
        }
        return;
      case 'DATA':
        if (this.state === 'MAIL_FROM') {
          this.fail(reply(554, '5.5.1', 'No valid recipients'));
          return;
        }
        this.queue.push(START_DATA);
        this.body.start('DATA');
        return;
      case 'BDAT':
        if (this.state === 'MAIL_FROM') {
          this.discardChunk(command.size, reply(554, '5.5.1', 'No valid recipients'));
          return;
        }
        if (from === 'RCPT_TO') this.body.start('BDAT');
        this.body.startChunk(command.size, command.last);
        if (command.size === 0) this.chunkDone();
        return;
      case 'RSET':
        this.queue.push(OK);
        return;
      case 'NOOP':
        this.queue.push(OK);
        return;
      case 'HELP':
        this.emitReply(reply(214, '2.0.0', 'See RFC 5321'));
        return;
      case 'VRFY':
        // RFC 5321 3.5.3: 252 when we will not verify but will accept mail for the user.
        this.emitReply(reply(252, '2.5.2', 'Cannot VRFY user, but will accept message and attempt delivery'));
        return;
      case 'EXPN':
        this.emitReply(reply(502, '5.5.1', 'EXPN not available'));
        return;
      case 'QUIT':
        this.queue.push(BYE);
        this.finish('quit');
        return;
      case 'STARTTLS':
        if (this.#secure) this.fail(reply(503, '5.5.1', 'TLS already active'));
        else if (!this.tlsAvailable) this.fail(reply(502, '5.5.1', 'STARTTLS not available'));
        else this.await({ type: 'StartTls' }, command);
        return;
      case 'AUTH':
        this.onAuth(command.mechanism, command.initialResponse);
        return;
    }
  }

  private onAuth(mechanism: string, initialResponse: string | undefined): void {
    if (this.auth === undefined) {
      // 503 as Postfix answers ("authentication not enabled"): the command exists, not here.
      this.fail(reply(503, '5.5.1', 'AUTH not available'));
    } else if (!this.#secure) {
      // RFC 4954 6: 538 when the mechanism needs an encrypted connection; we require TLS for all.
      this.fail(reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'));
    } else if (this.#user !== undefined) {
      this.fail(reply(503, '5.5.1', 'Already authenticated'));
    } else if (!this.auth.mechanisms.includes(mechanism as AuthMechanism)) {
      this.fail(reply(504, '5.5.4', 'Unrecognized authentication type'));
    } else {
      this.#exchange = new SaslExchange(mechanism as AuthMechanism);
      this.enter('AuthStart');
      this.onSaslStep(this.#exchange.start(initialResponse));
    }
  }

  private onSaslStep(step: SaslStep): void {
    if (step.kind === 'challenge') {
      this.queue.push({ type: 'Reply', reply: { code: 334, lines: [step.data.slice(4, -2)] }, data: step.data });
    } else if (step.kind === 'credentials') {
      const { kind: _, ...credentials } = step;
      this.await({ type: 'Authenticate', ...credentials }, null);
    } else {
      this.#exchange = null;
      this.enter('AuthDone');
      this.fail(reply(step.code, step.enhanced, step.text));
    }
  }

  private helloReply(verb: 'HELO' | 'EHLO', first: string): string {
    if (verb === 'HELO') return formatReply({ code: 250, lines: [first] });
    return ehloReply(first, {
      maxMessageSize: this.maxMessageSize,
      offerStartTls: this.tlsAvailable && !this.#secure,
      // RFC 4954 4 and our rule: AUTH only once the connection is encrypted.
      authMechanisms: this.auth !== undefined && this.#secure ? this.auth.mechanisms : undefined,
    });
  }
}

/** A command line as a log may show it: AUTH keeps only its mechanism (an initial response is a credential). */
export function loggableCommand(line: string): string {
  if (/^auth(?:\s|$)/i.test(line)) return line.split(/\s+/).slice(0, 2).join(' ');
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
