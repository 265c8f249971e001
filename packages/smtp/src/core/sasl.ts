// SASL helpers for AUTH PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), used by the server session.

/** The AUTH mechanisms this package implements. */
export type AuthMechanism = 'PLAIN' | 'LOGIN';

/** `334` challenges of AUTH LOGIN: base64 of "Username:" and "Password:". */
export const LOGIN_USERNAME_PROMPT = '334 VXNlcm5hbWU6\r\n';
export const LOGIN_PASSWORD_PROMPT = '334 UGFzc3dvcmQ6\r\n';
/** RFC 4954 4: an empty challenge is "334 " followed by CRLF. */
export const EMPTY_CHALLENGE = '334 \r\n';

/** Decodes strict base64 (RFC 4648 4, as RFC 4954 4 requires) to UTF-8; `=` alone is empty. Null when malformed. */
export function decodeBase64(text: string): string | null {
  if (text === '=') return '';
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const decoded = Buffer.from(text, 'base64');
  const value = decoded.toString('utf8');
  // Reject bytes that are not UTF-8 rather than guess a password's encoding.
  if (Buffer.byteLength(value) !== decoded.length) return null;
  return value;
}

/** Splits a PLAIN message `authzid NUL authcid NUL passwd` (RFC 4616 2). */
export function parsePlain(
  message: string,
): { authorizationId: string | undefined; username: string; password: string } | null {
  const parts = message.split('\0');
  if (parts.length !== 3) return null;
  const [authorizationId, username, password] = parts as [string, string, string];
  if (username === '') return null;
  return { authorizationId: authorizationId === '' ? undefined : authorizationId, username, password };
}

/** What the exchange needs next: send a challenge, check credentials, or refuse with a reply. */
export type SaslStep =
  | { kind: 'challenge'; data: string }
  | {
      kind: 'credentials';
      mechanism: AuthMechanism;
      username: string;
      password: string;
      authorizationId: string | undefined;
    }
  | { kind: 'refused'; code: number; enhanced: string; text: string };

/** One AUTH exchange (RFC 4954 4) for PLAIN or LOGIN, without I/O. */
export class SaslExchange {
  private username: string | undefined;

  constructor(readonly mechanism: AuthMechanism) {}

  /** The first step: use the initial response if the AUTH command carried one. */
  start(initialResponse: string | undefined): SaslStep {
    if (initialResponse !== undefined) return this.respond(initialResponse);
    return { kind: 'challenge', data: this.mechanism === 'PLAIN' ? EMPTY_CHALLENGE : LOGIN_USERNAME_PROMPT };
  }

  /** The client's answer to the last challenge. */
  respond(line: string): SaslStep {
    // RFC 4954 4: "*" cancels the exchange.
    if (line === '*') return { kind: 'refused', code: 501, enhanced: '5.0.0', text: 'Authentication cancelled' };
    const decoded = decodeBase64(line);
    if (decoded === null) return { kind: 'refused', code: 501, enhanced: '5.5.2', text: 'Cannot decode response' };
    if (this.mechanism === 'PLAIN') {
      const plain = parsePlain(decoded);
      if (plain === null) return { kind: 'refused', code: 501, enhanced: '5.5.2', text: 'Bad PLAIN response' };
      return { kind: 'credentials', mechanism: 'PLAIN', ...plain };
    }
    if (this.username === undefined) {
      this.username = decoded;
      return { kind: 'challenge', data: LOGIN_PASSWORD_PROMPT };
    }
    return {
      kind: 'credentials',
      mechanism: 'LOGIN',
      username: this.username,
      password: decoded,
      authorizationId: undefined,
    };
  }
}
