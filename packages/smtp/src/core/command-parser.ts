import {
  type MailParameters,
  type ParametersResult,
  parseMailParameters,
  parseRcptParameters,
  type RcptParameters,
} from './esmtp-parameters';
import { type Mailbox, parsePath } from './mailbox';
import type { Reply } from './reply';
import { reply } from './reply-format';

/** A parsed SMTP command (RFC 5321 4.1.1 and the extensions this package speaks). */
export type Command =
  | { verb: 'HELO' | 'EHLO'; domain: string }
  | { verb: 'MAIL'; from: Mailbox | null; params: MailParameters }
  | { verb: 'RCPT'; to: Mailbox; params: RcptParameters }
  | { verb: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS' }
  | { verb: 'NOOP' | 'VRFY' | 'EXPN' | 'HELP'; argument: string }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'AUTH'; mechanism: string; initialResponse: string | undefined };

/** The verbs `parseCommand` knows. */
export type Verb = Command['verb'];

/** A command, or the reply that rejects the line. */
export type ParsedCommand = { ok: true; command: Command } | { ok: false; reply: Reply };

const fail = (code: number, enhanced: string, text: string): ParsedCommand => ({
  ok: false,
  reply: reply(code, enhanced, text),
});

// Finds the '>' that closes a path, skipping over a quoted local part that may contain '>'.
function pathEnd(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) return i;
  }
  return -1;
}

function splitPath(rest: string, keyword: 'FROM' | 'TO'): { path: string; params: string } | null {
  // RFC 5321 4.1.1.2 has no space after the colon; many clients send one, so tolerate spaces.
  const match = keyword === 'FROM' ? /^FROM: */i.exec(rest) : /^TO: */i.exec(rest);
  if (match === null) return null;
  const tail = rest.slice(match[0].length);
  if (!tail.startsWith('<')) return null;
  const end = pathEnd(tail);
  if (end === -1) return null;
  const params = tail.slice(end + 1);
  if (params !== '' && !params.startsWith(' ')) return null;
  return { path: tail.slice(0, end + 1), params };
}

/** Parses one command line, without its CRLF. */
export function parseCommand(line: string): ParsedCommand {
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  switch (verb) {
    case 'HELO':
    case 'EHLO': {
      const domain = rest.trim();
      // Be lenient with what clients call themselves (RFC 5321 4.1.4: no rejection on mismatch),
      // but it must be one printable token.
      if (!/^[\x21-\x7e\u0080-\u{10FFFF}]{1,255}$/u.test(domain)) return fail(501, '5.5.4', `Syntax: ${verb} hostname`);
      return { ok: true, command: { verb, domain } };
    }
    case 'MAIL': {
      const parts = splitPath(rest, 'FROM');
      if (parts === null) return fail(501, '5.5.4', 'Syntax: MAIL FROM:<address>');
      // No parameters (the usual case): the same result without splitting an empty string.
      const params: ParametersResult<MailParameters> =
        parts.params === '' ? { ok: true, params: { smtputf8: false } } : parseMailParameters(parts.params);
      if (!params.ok) return params;
      if (parts.path === '<>') return { ok: true, command: { verb: 'MAIL', from: null, params: params.params } };
      const path = parsePath(parts.path);
      if (!path.ok || path.mailbox.domain === '')
        return fail(553, '5.1.7', `Bad sender address: ${path.ok ? 'missing @domain' : path.reason}`);
      return { ok: true, command: { verb: 'MAIL', from: path.mailbox, params: params.params } };
    }
    case 'RCPT': {
      const parts = splitPath(rest, 'TO');
      if (parts === null) return fail(501, '5.5.4', 'Syntax: RCPT TO:<address>');
      const params: ParametersResult<RcptParameters> =
        parts.params === '' ? { ok: true, params: {} } : parseRcptParameters(parts.params);
      if (!params.ok) return params;
      const path = parsePath(parts.path);
      if (!path.ok) return fail(553, '5.1.3', `Bad recipient address: ${path.reason}`);
      return { ok: true, command: { verb: 'RCPT', to: path.mailbox, params: params.params } };
    }
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      return rest.trim() === ''
        ? { ok: true, command: { verb } }
        : fail(501, '5.5.4', `Syntax: ${verb} takes no arguments`);
    case 'NOOP':
    case 'VRFY':
    case 'EXPN':
    case 'HELP':
      return { ok: true, command: { verb, argument: rest.trim() } };
    case 'BDAT': {
      // RFC 3030 2: BDAT chunk-size [ SP end-marker ]
      const match = /^([0-9]{1,15})(?: +(LAST))? *$/i.exec(rest);
      if (match === null) return fail(501, '5.5.4', 'Syntax: BDAT size [LAST]');
      return { ok: true, command: { verb: 'BDAT', size: Number(match[1]), last: match[2] !== undefined } };
    }
    case 'AUTH': {
      // RFC 4954 4: AUTH mechanism [initial-response]
      const match = /^([A-Za-z0-9_-]{1,20})(?: +([A-Za-z0-9+/]+={0,2}|=))? *$/.exec(rest);
      if (match === null) return fail(501, '5.5.4', 'Syntax: AUTH mechanism [initial-response]');
      return { ok: true, command: { verb: 'AUTH', mechanism: match[1]!.toUpperCase(), initialResponse: match[2] } };
    }
    default:
      return fail(500, '5.5.1', 'Command unrecognized');
  }
}
