import type { Verb } from './command-parser';

/**
 * The states of a server session. Every transition is in `SERVER_TRANSITIONS` below, in this one
 * file, as h11 keeps its `_state.py`: the session consults it on every change of state.
 */
export type ServerState =
  /** Connected; the Connect event awaits a decision (the greeting). */
  | 'CONNECTED'
  /** The greeting was a 554 (RFC 5321 3.1): only QUIT is answered with anything but 503. */
  | 'REJECTED'
  /** Greeted; waiting for HELO or EHLO. */
  | 'GREETED'
  /** HELO/EHLO done, no mail transaction. */
  | 'READY'
  /** MAIL FROM accepted, no recipient yet. */
  | 'MAIL_FROM'
  /** At least one recipient accepted. */
  | 'RCPT_TO'
  /** Reading a DATA body until CRLF.CRLF. */
  | 'DATA'
  /** Reading a BDAT chunk of known size (RFC 3030). */
  | 'BDAT'
  /** Between BDAT chunks of one message. */
  | 'BDAT_IDLE'
  /** Reading (and dropping) a BDAT chunk whose command was refused: RFC 3030 3 says it must still be read. */
  | 'BDAT_DISCARD'
  /** In a SASL exchange after AUTH (RFC 4954 4). */
  | 'AUTH'
  /** STARTTLS accepted; waiting for `tlsStarted()`. No bytes are read meanwhile. */
  | 'TLS_HANDSHAKE'
  /** Finished; nothing more is read. */
  | 'CLOSED';

/**
 * What moves a server session: a command verb (read and allowed in this state), or an event of the
 * session: a decision taken (`...Accepted`), the end of a body, a TLS handshake done, the end.
 */
export type ServerTrigger =
  | Verb
  | 'ConnectAccepted'
  | 'ConnectRejected'
  | 'HelloAccepted'
  | 'StartTlsAccepted'
  | 'TlsStarted'
  | 'AuthStart'
  | 'AuthDone'
  | 'MailAccepted'
  | 'RcptAccepted'
  /** The body ended and is within limits: the MessageEnd decision awaits. */
  | 'BodyEnd'
  /** The body ended over a limit: the session refused it itself. */
  | 'BodyRefused'
  /** The MessageEnd decision was given (accept or reject): the transaction is over. */
  | 'MessageDone'
  /** A BDAT chunk that is not the last was read. */
  | 'ChunkReceived'
  /** A refused BDAT's chunk is to be read and dropped (RFC 3030 3). */
  | 'DiscardChunk'
  /** The refused chunk was read: back to where the BDAT came. */
  | 'ChunkDiscarded'
  /** The session ends: peer closed, protocol error, 421, shutdown. */
  | 'Close';

/** The next state of a trigger; a list where the session picks one of them (the state a discarded chunk returns to). */
export type Target = ServerState | readonly ServerState[];

const ANYTIME = { NOOP: 'SAME', HELP: 'SAME', VRFY: 'SAME', EXPN: 'SAME', QUIT: 'CLOSED', Close: 'CLOSED' } as const;

/** States in which the session reads command lines. */
export const COMMAND_STATES: ReadonlySet<ServerState> = new Set([
  'REJECTED',
  'GREETED',
  'READY',
  'MAIL_FROM',
  'RCPT_TO',
  'BDAT_IDLE',
]);

/** States inside a mail transaction, which RSET, HELO/EHLO and errors abort. */
export const TRANSACTION_STATES: ReadonlySet<ServerState> = new Set(['MAIL_FROM', 'RCPT_TO', 'BDAT_IDLE']);

type Row = Partial<Record<ServerTrigger, ServerState | 'SAME' | readonly ServerState[]>>;
// 'SAME' is written for brevity and resolved to the row's own state below.
const ROWS: Record<ServerState, Row> = {
  CONNECTED: { ConnectAccepted: 'GREETED', ConnectRejected: 'REJECTED', Close: 'CLOSED' },
  // RFC 5321 3.1: after a 554 greeting only QUIT is answered with anything but 503.
  REJECTED: { QUIT: 'CLOSED', DiscardChunk: 'BDAT_DISCARD', Close: 'CLOSED' },
  GREETED: {
    ...ANYTIME,
    HELO: 'SAME',
    EHLO: 'SAME',
    HelloAccepted: 'READY',
    RSET: 'SAME',
    DiscardChunk: 'BDAT_DISCARD',
  },
  READY: {
    ...ANYTIME,
    HELO: 'SAME',
    EHLO: 'SAME',
    HelloAccepted: 'READY',
    RSET: 'SAME',
    MAIL: 'SAME',
    MailAccepted: 'MAIL_FROM',
    STARTTLS: 'SAME',
    StartTlsAccepted: 'TLS_HANDSHAKE',
    AUTH: 'SAME',
    AuthStart: 'AUTH',
    // The MessageEnd decision is taken in READY: the body is over, the reply is not yet sent.
    MessageDone: 'READY',
    DiscardChunk: 'BDAT_DISCARD',
  },
  // RFC 5321 4.1.1.1, 4.1.1.5: HELO/EHLO and RSET abort the transaction.
  MAIL_FROM: {
    ...ANYTIME,
    HELO: 'READY',
    EHLO: 'READY',
    RSET: 'READY',
    RCPT: 'SAME',
    RcptAccepted: 'RCPT_TO',
    // DATA and BDAT without a recipient are refused with 554 (and BDAT's chunk discarded).
    DATA: 'SAME',
    BDAT: 'SAME',
    DiscardChunk: 'BDAT_DISCARD',
  },
  RCPT_TO: {
    ...ANYTIME,
    HELO: 'READY',
    EHLO: 'READY',
    RSET: 'READY',
    RCPT: 'SAME',
    RcptAccepted: 'RCPT_TO',
    DATA: 'DATA',
    BDAT: 'BDAT',
  },
  DATA: { BodyEnd: 'READY', BodyRefused: 'READY', Close: 'CLOSED' },
  BDAT: { ChunkReceived: 'BDAT_IDLE', BodyEnd: 'READY', BodyRefused: 'READY', Close: 'CLOSED' },
  BDAT_IDLE: { ...ANYTIME, HELO: 'READY', EHLO: 'READY', RSET: 'READY', BDAT: 'BDAT' },
  BDAT_DISCARD: { ChunkDiscarded: [...COMMAND_STATES], Close: 'CLOSED' },
  // RFC 4954 4: the exchange ends with the decision on the credentials, or a refusal of the session's own.
  AUTH: { AuthDone: 'READY', Close: 'CLOSED' },
  // RFC 3207 4.2: after the handshake the session starts over, without HELO.
  TLS_HANDSHAKE: { TlsStarted: 'GREETED', Close: 'CLOSED' },
  CLOSED: {},
};

function resolve(rows: Record<ServerState, Row>): Record<ServerState, Partial<Record<ServerTrigger, Target>>> {
  const out = {} as Record<ServerState, Partial<Record<ServerTrigger, Target>>>;
  for (const [state, row] of Object.entries(rows) as [ServerState, Row][]) {
    out[state] = {};
    for (const [trigger, target] of Object.entries(row) as [ServerTrigger, Row[ServerTrigger]][]) {
      out[state][trigger] = target === 'SAME' ? state : (target as Target);
    }
  }
  return out;
}

/**
 * Every transition of a server session: state x trigger -> next state (RFC 5321 4.1.4 command
 * order, RFC 3030 BDAT, RFC 3207 STARTTLS, RFC 4954 AUTH). The session consults it on every change
 * of state and throws `SMTP_STATE` for a pair that is not here; a command verb missing from a
 * state's row gets `503 5.5.1 Bad sequence of commands`.
 */
export const SERVER_TRANSITIONS: Readonly<Record<ServerState, Readonly<Partial<Record<ServerTrigger, Target>>>>> =
  resolve(ROWS);

const VERBS: readonly Verb[] = [
  'HELO',
  'EHLO',
  'MAIL',
  'RCPT',
  'DATA',
  'BDAT',
  'RSET',
  'NOOP',
  'QUIT',
  'VRFY',
  'EXPN',
  'HELP',
  'STARTTLS',
  'AUTH',
];

/**
 * The verbs each state allows, and the state the command itself leads to (`SAME` to stay; the
 * decision on it may move the session on). Derived from `SERVER_TRANSITIONS`.
 * @deprecated use `SERVER_TRANSITIONS`, which also holds the decisions and body events.
 */
export const COMMAND_TRANSITIONS: Readonly<Record<ServerState, Readonly<Partial<Record<Verb, ServerState | 'SAME'>>>>> =
  Object.fromEntries(
    (Object.keys(ROWS) as ServerState[]).map((state) => [
      state,
      Object.fromEntries(
        VERBS.filter((verb) => SERVER_TRANSITIONS[state][verb] !== undefined).map((verb) => {
          const target = SERVER_TRANSITIONS[state][verb] as ServerState;
          return [verb, target === state ? 'SAME' : target];
        }),
      ),
    ]),
  ) as Record<ServerState, Partial<Record<Verb, ServerState | 'SAME'>>>;
