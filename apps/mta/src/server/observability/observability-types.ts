// The contracts between the server and its observability: the event log every part writes to and
// the metrics it counts. The implementations live beside this file (key=value lines or pino JSON,
// prom-client); the rest of the server codes against these types only.

/** Values of one log line's fields; undefined fields are left out. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/**
 * One line per event, on stdout: `{id} {subsystem} {event} key=value ...`, where id is a 16-hex
 * session id (or the server's own run id for lines outside a session), e.g.
 * `c1a89cb774083905 smtp connected address=203.0.113.7 host=mail.example.net`.
 */
export interface EventLog {
  event(id: string, subsystem: string, event: string, fields?: LogFields): void;
  /** A pino-compatible logger (debug/info/warn/error, child) for a library, writing through this log. */
  libraryLogger(subsystem: string): LibraryLogger;
  /** A new 16-hex session id. */
  newId(): string;
  /** The run id: the id of lines outside a session. */
  readonly runId: string;
}

/** The pino-compatible shape every @homing library accepts as `logger`. */
export interface LibraryLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): LibraryLogger;
}

/** Which listener a connection came to. */
export type ListenerName = 'mx' | 'submission' | 'submissions';

/** The queue's size by recipient state, as the metrics gauge reads it. */
export interface QueueSizeByState {
  pending: number;
  deferred: number;
  held: number;
}

/** What the server counts; exposed as Prometheus text on `listen.metrics`. */
export interface Metrics {
  connectionOpened(listener: ListenerName): void;
  connectionClosed(listener: ListenerName): void;
  messageAccepted(listener: ListenerName): void;
  /** A message or command refused; reason is a short stable word (`relay`, `unknown-user`, `spf`, `dmarc`, `dnsbl`, `size`, ...). */
  messageRejected(reason: string): void;
  junked(filter: string): void;
  localDelivery(result: 'ok' | 'deferred' | 'failed', folder: 'INBOX' | 'Junk'): void;
  dnsFailure(check: string): void;
  /** Called on each scrape to read the queue's size. */
  setQueueSizeSource(read: () => Promise<QueueSizeByState>): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}
