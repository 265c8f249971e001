import { formatReply, reply } from './reply-format';
import type { Decision } from './server-events';

// Default replies are formatted once: the hot path of a busy server answers the same few lines.
const formatted = new Map<string, string>();
function cached(code: number, enhanced: string | undefined, text: string): string {
  const key = `${code} ${enhanced ?? ''} ${text}`;
  let out = formatted.get(key);
  if (out === undefined) {
    out = formatReply(reply(code, enhanced, text));
    if (formatted.size < 256) formatted.set(key, out);
  }
  return out;
}

/** The enhanced code to use when a rejection gives none: the class digit and `.0.0` (RFC 3463 3.1). */
export function defaultEnhanced(code: number): string {
  return `${Math.floor(code / 100)}.0.0`;
}

/** The wire reply for a decision: the given rejection, or the default accept reply unless it overrides parts. */
export function decisionReply(decision: Decision, code: number, enhanced: string | undefined, text: string): string {
  if (decision.action === 'reject') {
    return formatReply(reply(decision.code, decision.enhanced ?? defaultEnhanced(decision.code), decision.text));
  }
  if (decision.action === 'accept') {
    if (decision.code === undefined && decision.enhanced === undefined && decision.text === undefined) {
      return cached(code, enhanced, text);
    }
    return formatReply(reply(decision.code ?? code, decision.enhanced ?? enhanced, decision.text ?? text));
  }
  return decision.text === undefined ? cached(code, enhanced, text) : formatReply(reply(code, enhanced, decision.text));
}

/** The EHLO reply (RFC 5321 4.1.1.1): keywords we offer; STARTTLS only in clear, AUTH only under TLS. */
export function ehloReply(
  first: string,
  options: { maxMessageSize: number; offerStartTls: boolean; authMechanisms: string[] | undefined },
): string {
  const key = `${options.maxMessageSize}|${options.offerStartTls}|${options.authMechanisms?.join(' ') ?? '-'}`;
  let tail = formatted.get(key);
  if (tail === undefined) {
    const lines = ['PIPELINING', '8BITMIME', 'SMTPUTF8', `SIZE ${options.maxMessageSize}`];
    lines.push('ENHANCEDSTATUSCODES', 'CHUNKING', 'DSN');
    if (options.offerStartTls) lines.push('STARTTLS');
    if (options.authMechanisms !== undefined) lines.push(`AUTH ${options.authMechanisms.join(' ')}`);
    tail = formatReply({ code: 250, lines });
    if (formatted.size < 256) formatted.set(key, tail);
  }
  // The first line carries the client's name, so it is the only part formatted each time.
  return `250-${first.replace(/[\r\n\0]/g, '')}\r\n${tail}`;
}
