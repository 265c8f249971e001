import type { Readable } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import type { MailParameters, RcptParameters } from '../core/esmtp-parameters';
import type { Logger } from '../core/logger';
import type { Mailbox } from '../core/mailbox';
import type { AuthMechanism } from '../core/sasl';
import type { Decision } from '../core/server-events';

export type { Logger };

/** A tag a hook put on the session or the message with `{ action: 'tag' }`. */
export interface SessionTag {
  phase: 'connect' | 'helo' | 'auth' | 'mail' | 'rcpt' | 'data';
  tag: string;
  reason: string | undefined;
}

/** What hooks know about the session they are called for. */
export interface SessionInfo {
  /** A random id for log lines. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** True under TLS (implicit, or after STARTTLS). */
  secure: boolean;
  /** The accepted HELO/EHLO. */
  hello: { verb: 'HELO' | 'EHLO'; domain: string } | undefined;
  /** The user, once AUTH succeeded. */
  user: string | undefined;
  /** Tags from hooks, for this connection (connect, helo, auth) and the current message. */
  tags: SessionTag[];
  /** The current transaction: sender (null for `<>`) and accepted recipients. */
  envelope: {
    from: Mailbox | null | undefined;
    mailParams: MailParameters | undefined;
    to: { mailbox: Mailbox; params: RcptParameters }[];
  };
  /** Aborts when the connection closes. */
  readonly signal: AbortSignal;
}

/** The message given to the `data` hook. */
export interface IncomingMessage {
  /** The body, dot-unstuffed, as a byte stream; while it is not read, the socket is paused. */
  body: Readable;
  /** `DATA` or `BDAT`. */
  mode: 'DATA' | 'BDAT';
}

type MaybePromise<T> = T | Promise<T>;

/** Async hooks per phase; each returns a decision. A missing hook accepts. */
export interface SmtpServerHooks {
  connect?(session: SessionInfo): MaybePromise<Decision>;
  helo?(session: SessionInfo, hello: { verb: 'HELO' | 'EHLO'; domain: string }): MaybePromise<Decision>;
  /** Checks credentials. Without this hook AUTH is not offered. */
  auth?(
    session: SessionInfo,
    credentials: { mechanism: AuthMechanism; username: string; password: string; authorizationId: string | undefined },
  ): MaybePromise<Decision>;
  mail?(session: SessionInfo, from: Mailbox | null, params: MailParameters): MaybePromise<Decision>;
  rcpt?(session: SessionInfo, to: Mailbox, params: RcptParameters): MaybePromise<Decision>;
  /** Reads the body and decides once it has all of it. */
  data?(session: SessionInfo, message: IncomingMessage): MaybePromise<Decision>;
}

/** Limits, each with a safe default (see the README). */
export interface SmtpServerLimits {
  /** Command line with CRLF, RFC 5321 4.5.3.1.4. Default 512. */
  maxCommandLine: number;
  /** Text line in DATA with CRLF, RFC 5321 4.5.3.1.6. Default 1000; 0 turns it off. */
  maxTextLine: number;
  /** Message size in octets (SIZE). Default 25 MiB; 0 for none. */
  maxMessageSize: number;
  /** Recipients per message. Default 100. */
  maxRecipients: number;
  /** Open connections overall. Default 1000. */
  maxConnections: number;
  /** Open connections per client address. Default 20. */
  maxConnectionsPerIp: number;
  /** Milliseconds the client may stay silent after its last bytes or our last reply. Default 300 000 (RFC 5321 4.5.3.2.7). */
  idleTimeoutMs: number;
  /** Milliseconds a session may last. Default 1 800 000. */
  sessionTimeoutMs: number;
  /**
   * Milliseconds a TLS handshake may take in all, on an implicit-TLS listener (from the TCP
   * accept) and after STARTTLS (from our 220): then the socket is closed and `smtp
   * tls-handshake-timeout` logged. A whole-handshake deadline, so a client that drips its
   * ClientHello a byte at a time gets no longer than a silent one. Default 30 000.
   */
  tlsHandshakeTimeoutMs: number;
  /**
   * Milliseconds the client may be kept waiting for us with nothing moving: a hook that does not
   * decide, or a `data` hook that stops reading the body. Then `421 4.3.0` and the connection is
   * closed (its hooks' `signal` aborts), logged `smtp hook-timeout`. Default 300 000.
   */
  hookTimeoutMs: number;
  /** Bad commands before the session is closed. Default 10. */
  maxErrors: number;
}

/** Options of `createServer`. */
export interface SmtpServerOptions {
  /** Our name in the greeting and EHLO reply. Default `localhost`. */
  hostname?: string;
  /** Key and certificate: enables STARTTLS and `listen({ implicitTls: true })`. */
  tls?: SecureContextOptions;
  /** AUTH settings (needs `hooks.auth`); AUTH is offered only under TLS. */
  auth?: { mechanisms?: AuthMechanism[]; required?: boolean };
  limits?: Partial<SmtpServerLimits>;
  hooks?: SmtpServerHooks;
  logger?: Logger;
  /**
   * Plain listeners take accepted connections from Node's listener internals and read them into
   * one shared buffer: less work per connection. Default true on the Node majors it is known to
   * work on (20, 22, 24), false elsewhere; false keeps Node's own accept path. Either way Node's
   * `getConnections()`, 'connection' event and `net.server.socket` channel see every connection.
   */
  fastAccept?: boolean;
}

/** The defaults of `SmtpServerLimits`. */
export const DEFAULT_LIMITS: SmtpServerLimits = {
  maxCommandLine: 512,
  maxTextLine: 1000,
  maxMessageSize: 25 * 1024 * 1024,
  maxRecipients: 100,
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  idleTimeoutMs: 300_000,
  sessionTimeoutMs: 1_800_000,
  tlsHandshakeTimeoutMs: 30_000,
  hookTimeoutMs: 300_000,
  maxErrors: 10,
};
