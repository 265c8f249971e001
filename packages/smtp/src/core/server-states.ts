import type { Verb } from './command-parser';

/**
 * The states of a server session. Every transition a command can make is in
 * `COMMAND_TRANSITIONS` below, in this one file, as h11 keeps its `_state.py`.
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

/** Where a command leads when accepted: a state, or `SAME` to stay put. */
export type Target = ServerState | 'SAME';

const ANYTIME = { NOOP: 'SAME', HELP: 'SAME', VRFY: 'SAME', EXPN: 'SAME', QUIT: 'CLOSED' } as const;
const HELLO = { HELO: 'READY', EHLO: 'READY' } as const;

/**
 * Command transitions (RFC 5321 4.1.4 command order, RFC 3030 BDAT, RFC 3207 STARTTLS,
 * RFC 4954 AUTH). A verb missing from a state's row gets `503 5.5.1 Bad sequence of commands`.
 * HELO/EHLO and RSET abort any transaction (RFC 5321 4.1.1.1, 4.1.1.5).
 */
export const COMMAND_TRANSITIONS: Readonly<Record<ServerState, Readonly<Partial<Record<Verb, Target>>>>> = {
  CONNECTED: {},
  REJECTED: { QUIT: 'CLOSED' },
  GREETED: { ...ANYTIME, ...HELLO, RSET: 'SAME' },
  READY: { ...ANYTIME, ...HELLO, RSET: 'SAME', MAIL: 'MAIL_FROM', STARTTLS: 'TLS_HANDSHAKE', AUTH: 'AUTH' },
  MAIL_FROM: { ...ANYTIME, ...HELLO, RSET: 'READY', RCPT: 'RCPT_TO', DATA: 'SAME', BDAT: 'SAME' },
  RCPT_TO: { ...ANYTIME, ...HELLO, RSET: 'READY', RCPT: 'RCPT_TO', DATA: 'DATA', BDAT: 'BDAT' },
  DATA: {},
  BDAT: {},
  BDAT_IDLE: { ...ANYTIME, ...HELLO, RSET: 'READY', BDAT: 'BDAT' },
  BDAT_DISCARD: {},
  AUTH: {},
  TLS_HANDSHAKE: {},
  CLOSED: {},
};

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
