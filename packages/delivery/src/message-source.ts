/**
 * A message delivery opens when it needs it, as often as it needs it (once per transaction, again
 * for a retry on a fresh connection), instead of holding it in memory: for a queued message,
 * `{ open: () => queue.openBody(id), size: claim.size }`.
 */
export interface MessageSource {
  /** Opens the message (headers and body) from its first octet; a Readable is destroyed when done. */
  open(): Promise<AsyncIterable<Uint8Array | string>> | AsyncIterable<Uint8Array | string>;
  /** Octets, when known: announced with SIZE= (RFC 1870). */
  size?: number;
  /**
   * Whether it holds octets above 127, when known. Unknown, it is declared BODY=8BITMIME to a
   * server that offers it, and read through once before going to a server that does not.
   */
  eightBit?: boolean;
}
