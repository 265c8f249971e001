/**
 * An SMTP reply (RFC 5321 4.2): a three-digit code, an optional enhanced status code
 * (RFC 3463, e.g. "5.7.1") and one or more text lines. Shared by the server session,
 * which formats replies, and the client session, which parses them.
 */
export interface Reply {
  /** The three-digit reply code, 200 to 599. */
  code: number;
  /** The enhanced status code (RFC 3463), for example `2.1.0`, when the reply carries one. */
  enhanced?: string;
  /** The text lines, without code, enhanced code or CRLF. At least one, possibly empty. */
  lines: string[];
}
