import type { Reply } from './reply';
import { formatReply, reply } from './reply-format';
import type { Decision, ReplyEvent } from './server-events';

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

// RFC 5321 4.2.2 has no enhanced code for 354 (it is not a completion reply).
export const START_DATA: ReplyEvent = {
  type: 'Reply',
  reply: { code: 354, lines: ['End data with <CR><LF>.<CR><LF>'] },
  data: '354 End data with <CR><LF>.<CR><LF>\r\n',
};
export const TOO_MANY_ERRORS = reply(421, '4.7.0', 'Too many errors; closing connection');
// Fixed replies, formatted once.
const replyEvent = (value: Reply): ReplyEvent => ({ type: 'Reply', reply: value, data: formatReply(value) });
export const OK = replyEvent(reply(250, '2.0.0', 'OK'));
export const BYE = replyEvent(reply(221, '2.0.0', 'Bye'));
// The default accept replies that do not depend on the session, formatted once.
export const MAIL_OK = formatReply(reply(250, '2.1.0', 'OK'));
export const RCPT_OK = formatReply(reply(250, '2.1.5', 'OK'));
export const DATA_OK = formatReply(reply(250, '2.0.0', 'OK'));
// The last default greeting: a server has one host name, so this is formatted once per server.
let greetingHost: string | undefined;
let greeting = '';
export function defaultGreeting(hostname: string): string {
  if (hostname !== greetingHost) {
    // RFC 2034: no enhanced status code in the greeting.
    greeting = formatReply(reply(220, undefined, `${hostname} ESMTP ready`));
    greetingHost = hostname;
  }
  return greeting;
}
// An accept that keeps every part of the default reply.
export function isPlainAccept(decision: Decision): boolean {
  return (
    decision.action === 'accept' &&
    decision.code === undefined &&
    decision.enhanced === undefined &&
    decision.text === undefined
  );
}
