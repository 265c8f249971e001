import { SmtpError } from './smtp-error';

/**
 * The states of a client session. Every change of state goes through `CLIENT_TRANSITIONS` below,
 * as h11 keeps its `_state.py`: the session asks the table for the next state on each trigger and
 * throws if the table has no such move.
 */
export type ClientState =
  /** Connected; waiting for the 220 greeting. */
  | 'GREETING'
  /** EHLO (or its HELO fallback) sent. */
  | 'EHLO'
  /** STARTTLS sent. */
  | 'STARTTLS'
  /** The server said 220 to STARTTLS; the adapter runs the handshake. */
  | 'TLS_HANDSHAKE'
  /** In an AUTH exchange. */
  | 'AUTH'
  /** Between messages: `startMessage()` or `quit()` may be called. */
  | 'READY'
  /** MAIL, RCPT (and a pipelined DATA) sent; waiting for their replies. */
  | 'ENVELOPE'
  /** The adapter streams the body (DATA) or its chunks (BDAT). */
  | 'BODY'
  /** The whole body is written; waiting for the reply to its end. */
  | 'BODY_SENT'
  /** RSET sent to put both sides back in step after a refused transaction. */
  | 'RSET'
  /** QUIT sent. */
  | 'QUIT'
  /** The session ended after QUIT. */
  | 'CLOSED'
  /** The session cannot go on; the adapter closes the connection. */
  | 'FAILED';

/** What moves a client session from one state to the next. */
export type ClientTrigger =
  /** The greeting was 220: EHLO goes out. */
  | 'Greeted'
  /** EHLO was refused with 5xx: HELO goes out (RFC 5321 4.1.4). */
  | 'HeloFallback'
  /** The server offers STARTTLS and we want it. */
  | 'StartTls'
  /** 220 to STARTTLS. */
  | 'TlsAccepted'
  /** The handshake succeeded: EHLO again (RFC 3207 4.2). */
  | 'TlsEstablished'
  /** An AUTH command or a response to a 334 challenge goes out. */
  | 'Authenticate'
  /** Set-up is done (or a message is): ready for a message. */
  | 'Ready'
  /** `startMessage()`: the envelope goes out. */
  | 'StartMessage'
  /** The server takes the body (354, or every RCPT answered under BDAT). */
  | 'SendBody'
  /** The body's end (DATA) or the last chunk (BDAT) is written. */
  | 'BodySent'
  /** The transaction failed somewhere: RSET goes out. */
  | 'Reset'
  /** The message's outcome is known and the session is in step again. */
  | 'MessageDone'
  /** `quit()`. */
  | 'Quit'
  /** QUIT answered, or the connection closed after it. */
  | 'Closed'
  /** Anything that ends the session: a 421, a closed connection, a protocol error, a refusal of set-up. */
  | 'Fail';

const FAIL = { Fail: 'FAILED' } as const;

/** State x trigger -> next state. A pair missing here is a bug in the session, never the peer's fault. */
export const CLIENT_TRANSITIONS: Readonly<Record<ClientState, Readonly<Partial<Record<ClientTrigger, ClientState>>>>> =
  {
    GREETING: { Greeted: 'EHLO', ...FAIL },
    EHLO: { HeloFallback: 'EHLO', StartTls: 'STARTTLS', Authenticate: 'AUTH', Ready: 'READY', ...FAIL },
    STARTTLS: { TlsAccepted: 'TLS_HANDSHAKE', Authenticate: 'AUTH', Ready: 'READY', ...FAIL },
    TLS_HANDSHAKE: { TlsEstablished: 'EHLO', ...FAIL },
    AUTH: { Authenticate: 'AUTH', Ready: 'READY', ...FAIL },
    READY: { StartMessage: 'ENVELOPE', Quit: 'QUIT', ...FAIL },
    ENVELOPE: { SendBody: 'BODY', Reset: 'RSET', ...FAIL },
    // RFC 3030 2: a refused chunk voids the transaction while later chunks may still be unanswered.
    BODY: { BodySent: 'BODY_SENT', Reset: 'RSET', ...FAIL },
    // A non-2xx reply to the end of data leaves some servers (Postfix with end-of-data restrictions)
    // inside the old transaction: RSET, never the next MAIL, comes after it.
    BODY_SENT: { MessageDone: 'READY', Reset: 'RSET', ...FAIL },
    RSET: { MessageDone: 'READY', ...FAIL },
    QUIT: { Closed: 'CLOSED', ...FAIL },
    CLOSED: {},
    FAILED: {},
  };

/** The state `trigger` leads to from `state`; throws `SMTP_STATE` when the table has no such move. */
export function nextClientState(state: ClientState, trigger: ClientTrigger): ClientState {
  const next = CLIENT_TRANSITIONS[state][trigger];
  if (next === undefined) {
    throw new SmtpError('SMTP_STATE', `client session: no transition from ${state} on ${trigger}`);
  }
  return next;
}
