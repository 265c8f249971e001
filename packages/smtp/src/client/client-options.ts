import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { ClientTlsMode } from '../core/client-session';
import type { Logger } from '../core/logger';

export type { Logger };

/**
 * Timeouts in milliseconds. Reply waits default to RFC 5321 4.5.3.2: greeting 5 min, MAIL
 * 5 min, RCPT 5 min, DATA initiation 2 min, each data block 3 min, end of data 10 min.
 */
export interface ClientTimeouts {
  /** TCP connect, and each TLS handshake. Default 30 s (not set by the RFC). */
  connectMs: number;
  /** The 220 greeting. Default 5 min. */
  greetingMs: number;
  /** EHLO, HELO, STARTTLS, AUTH, RSET, QUIT replies. Default 5 min. */
  commandMs: number;
  /** Reply to MAIL. Default 5 min. */
  mailMs: number;
  /** Reply to each RCPT. Default 5 min. */
  rcptMs: number;
  /** 354 reply to DATA. Default 2 min. */
  dataStartMs: number;
  /** Each write of the body to drain into the socket. Default 3 min. */
  dataBlockMs: number;
  /** Reply after the end of data (or the last BDAT). Default 10 min. */
  dataEndMs: number;
}

/** Default timeouts (RFC 5321 4.5.3.2). */
export const DEFAULT_CLIENT_TIMEOUTS: Readonly<ClientTimeouts> = Object.freeze({
  connectMs: 30_000,
  greetingMs: 5 * 60_000,
  commandMs: 5 * 60_000,
  mailMs: 5 * 60_000,
  rcptMs: 5 * 60_000,
  dataStartMs: 2 * 60_000,
  dataBlockMs: 3 * 60_000,
  dataEndMs: 10 * 60_000,
});

/** TLS settings: the mode, plus any `tls.connect` option (ca, servername, rejectUnauthorized, minVersion, …). */
export interface ClientTlsOptions extends Omit<ConnectionOptions, 'socket' | 'host' | 'port' | 'path'> {
  /**
   * `opportunistic` (default): STARTTLS when offered, plain otherwise, certificate not verified
   * unless `rejectUnauthorized: true` (RFC 7435). `required`: STARTTLS or fail, certificate
   * verified by default. `implicit`: TLS from the first byte (port 465, RFC 8314), verified by
   * default. `none`: never TLS.
   */
  mode?: ClientTlsMode;
}

/** @deprecated Use `Logger` (the same shape in every @homing package); the client logs at `debug`. */
export type ClientLogger = Logger;

/** Options of `connect()`. */
export interface ConnectOptions {
  host: string;
  /** Default 25 (465 with `tls.mode: 'implicit'`). */
  port?: number;
  /** Our EHLO name (RFC 5321 4.1.1.1). Default `localhost`; set a real FQDN when talking to the Internet. */
  hostname?: string;
  tls?: ClientTlsOptions;
  /** AUTH credentials (RFC 4954). Sent only over TLS unless `allowInsecure`. */
  auth?: { user: string; pass: string; method?: 'PLAIN' | 'LOGIN'; allowInsecure?: boolean };
  timeouts?: Partial<ClientTimeouts>;
  /** Aborts the connection (and whatever it is doing) at any time. */
  signal?: AbortSignal;
  /** Use BDAT when the server offers CHUNKING and PIPELINING. Default true. */
  chunking?: boolean;
  /** Longest reply line accepted, octets. Default 4096. */
  maxReplyLineLength?: number;
  /** Most lines in one reply. Default 128. */
  maxReplyLines?: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Logs at `debug`: one line per command sent, and failures. */
  logger?: Logger;
}

/** What TLS gave us, for logs and later checks (DANE, MTA-STS). */
export interface ClientTlsInfo {
  /** Whether the certificate chain verified against the CAs in use. */
  authorized: boolean;
  authorizationError?: string;
  /** e.g. `TLSv1.3`. */
  protocol: string | null;
  cipher: string;
  /** The server's certificate with its issuer chain (`getPeerCertificate(true)`). */
  peerCertificate: PeerCertificate;
}
