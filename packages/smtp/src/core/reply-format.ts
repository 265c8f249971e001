import type { Reply } from './reply';

const UNSAFE = /[\r\n\0]/;

/**
 * Formats a reply for the wire (RFC 5321 4.2.1): every line but the last is `code-text`, the
 * last is `code text`, each prefixed with the enhanced status code (RFC 2034) when there is one.
 * Text lines are split on LF and stripped of CR so that no text can inject a reply line.
 */
export function formatReply(reply: Reply): string {
  // Fast path: one line with nothing to strip or split (most replies).
  if (reply.lines.length === 1) {
    const only = reply.lines[0]!;
    if (only !== '' && !UNSAFE.test(only)) {
      return reply.enhanced ? `${reply.code} ${reply.enhanced} ${only}\r\n` : `${reply.code} ${only}\r\n`;
    }
  }
  const lines: string[] = [];
  for (const line of reply.lines.length === 0 ? [''] : reply.lines) {
    for (const part of line.split('\n')) lines.push(part.replace(/[\r\0]/g, ''));
  }
  const prefix = reply.enhanced ? `${reply.enhanced} ` : '';
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const separator = i === lines.length - 1 ? ' ' : '-';
    const text = prefix + lines[i];
    out += text === '' ? `${reply.code}${separator === ' ' ? '' : '-'}\r\n` : `${reply.code}${separator}${text}\r\n`;
  }
  return out;
}

/** Builds a one-line reply value. */
export function reply(code: number, enhanced: string | undefined, text: string): Reply {
  return enhanced === undefined ? { code, lines: [text] } : { code, enhanced, lines: [text] };
}
