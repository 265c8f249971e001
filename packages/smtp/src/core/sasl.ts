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
