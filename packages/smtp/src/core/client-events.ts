import type { SmtpClientError } from './client-error';
import type { SetupExpected } from './client-setup';
import type { ClientState, ClientTrigger } from './client-states';
import type { TransactionExpected } from './client-transaction';
import type { ServerExtensions } from './ehlo-extensions';
import type { Reply } from './reply';
import type { ReplyParserOptions } from './reply-parser';

/** How the session treats TLS: upgrade with STARTTLS when offered, insist on it, or never try. */
export type ClientTlsMode = 'opportunistic' | 'required' | 'implicit' | 'none';

/** Options of the sans-IO client session. */
export interface ClientSessionOptions extends ReplyParserOptions {
  /** Our name for EHLO/HELO (RFC 5321 4.1.1.1): a FQDN or an address literal like `[192.0.2.1]`. */
  hostname: string;
  /** Defaults to `opportunistic`. With `implicit` the adapter starts TLS before the greeting. */
  tls?: ClientTlsMode;
  /** Credentials for AUTH (RFC 4954); PLAIN is preferred when `method` is not given. */
  auth?: { user: string; pass: string; method?: 'PLAIN' | 'LOGIN'; allowInsecure?: boolean };
  /**
   * Use BDAT (RFC 3030) instead of DATA when the server offers CHUNKING and PIPELINING (chunks
   * are pipelined; without PIPELINING the session uses DATA). Default true.
   */
  chunking?: boolean;
  /** Called on every change of state with the trigger that caused it (tracing, tests). */
  onTransition?: (from: ClientState, trigger: ClientTrigger, to: ClientState) => void;
}

/** The reply a recipient got; for a recipient that passed RCPT but failed at DATA, the DATA reply. */
export interface RecipientResult {
  address: string;
  reply: Reply;
}

/** What happened to one message: per-recipient outcome, as the server told it. */
export interface TransactionResult {
  /** Recipients the server took responsibility for (RCPT and end of data both 2xx). */
  accepted: RecipientResult[];
  /** Every other recipient with the reply that refused it (MAIL, RCPT or DATA reply). */
  rejected: RecipientResult[];
  mailReply: Reply;
  /** The reply to the end of data (or the failing DATA/BDAT command), when the body phase was reached. */
  dataReply?: Reply;
}

/** What the session asks of its adapter, h11-style: act on each event in order. */
export type ClientEvent =
  /** Write these bytes. `text` is the command for logs, with credentials redacted. */
  | { type: 'Send'; data: Buffer; text: string }
  /** The server said 220 to STARTTLS: run the TLS handshake, then call `tlsEstablished()` or `tlsFailed()`. */
  | { type: 'StartTls' }
  /** Greeting, EHLO, TLS and AUTH are done: `startMessage()` may be called. */
  | { type: 'Ready'; extensions: ServerExtensions }
  /** Stream the body now: encoded by `DataEncoder('data')` then `endBody()`, or via `bdatChunk()`. */
  | { type: 'SendBody'; mode: 'data' | 'bdat' }
  /** The message's transaction is over; the session is ready again unless a `Failed` follows. */
  | { type: 'MessageDone'; result: TransactionResult }
  /** The session cannot go on; close the connection. */
  | { type: 'Failed'; error: SmtpClientError }
  /** QUIT was answered (or the server closed after it). */
  | { type: 'Closed' };

/** Session states: see `client-states.ts` and its `CLIENT_TRANSITIONS` table. */
export type { ClientState } from './client-states';

/** Which RFC 5321 4.5.3.2 timeout applies to the reply the session is waiting for. */
export type ReplyWait = 'greeting' | 'command' | 'mail' | 'rcpt' | 'dataStart' | 'dataEnd';

/** The reply a session waits for, with what it answers (set-up, transaction, RSET, QUIT). */
export type Expected = { kind: 'rset' } | { kind: 'quit' } | SetupExpected | TransactionExpected;

/** RFC 5321 4.5.3.2: which timeout covers the reply to each command. */
export const REPLY_WAIT: Record<Expected['kind'], ReplyWait> = {
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
