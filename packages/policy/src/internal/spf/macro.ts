// RFC 7208 7: macro strings. Parsing (a syntax check done when the record is read, so that
// a bad macro anywhere in the record is a permerror, RFC 7208 4.6) is kept apart from expansion
// (done when the term is evaluated, since %{p} needs DNS).

/** One piece of a parsed macro string. */
export type MacroToken =
  | { kind: 'literal'; text: string }
  | {
      kind: 'macro';
      letter: string;
      urlEscape: boolean;
      keep: number | undefined;
      reverse: boolean;
      delimiters: string;
    };

/** Why a macro string could not be parsed; the evaluator turns it into permerror. */
export class MacroSyntaxError extends Error {}

const domainLetters = 'slodiphv';
// RFC 7208 7.2: c, r and t are only allowed in the explanation string.
const explanationLetters = 'slodiphvcrt';

/**
 * Parses a macro-string (RFC 7208 7.1). `explanation` allows spaces and the c, r, t letters
 * (explain-string); elsewhere the text is a domain-spec or modifier value.
 */
export function parseMacroString(text: string, explanation = false): MacroToken[] {
  const tokens: MacroToken[] = [];
  const letters = explanation ? explanationLetters : domainLetters;
  let literal = '';
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    const code = char.charCodeAt(0);
    if (char !== '%') {
      // macro-literal = %x21-24 / %x26-7E; explain-string also allows SP.
      const allowed = (code >= 0x21 && code <= 0x7e) || (explanation && code === 0x20);
      if (!allowed) throw new MacroSyntaxError(`character ${JSON.stringify(char)} is not allowed in a macro string`);
      literal += char;
      continue;
    }
    const next = text[i + 1];
    if (next === '%') literal += '%';
    else if (next === '_') literal += ' ';
    else if (next === '-') literal += '%20';
    else if (next === '{') {
      const end = text.indexOf('}', i + 2);
      if (end < 0) throw new MacroSyntaxError('unterminated macro: missing "}"');
      const body = text.slice(i + 2, end);
      const match = /^([a-zA-Z])(\d*)(r?)([.\-+,/_=]*)$/i.exec(body);
      const letter = match?.[1];
      if (!match || !letter || !letters.includes(letter.toLowerCase())) {
        throw new MacroSyntaxError(`invalid macro %{${body}}`);
      }
      const digits = match[2] ?? '';
      if (digits !== '' && Number(digits) === 0) throw new MacroSyntaxError(`macro %{${body}} keeps zero parts`);
      if (literal) tokens.push({ kind: 'literal', text: literal });
      literal = '';
      tokens.push({
        kind: 'macro',
        letter: letter.toLowerCase(),
        urlEscape: letter !== letter.toLowerCase(),
        keep: digits === '' ? undefined : Number(digits),
        reverse: match[3] !== '',
        delimiters: match[4] || '.',
      });
      i = end;
      continue;
    } else throw new MacroSyntaxError(`"%" must be followed by "{", "%", "_" or "-"`);
    i += 1;
  }
  if (literal) tokens.push({ kind: 'literal', text: literal });
  return tokens;
}

/** True when the macro string uses a macro (so the domain cannot be checked before expansion). */
export function hasMacro(tokens: MacroToken[]): boolean {
  return tokens.some((token) => token.kind === 'macro');
}

/** Gives the value of a macro letter; `p` is asynchronous (it needs DNS), so all may be. */
export type MacroValues = (letter: string) => string | Promise<string>;

// RFC 7208 7.3: uppercase macros are URL-escaped (RFC 3986 unreserved characters kept).
function urlEscape(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function transform(value: string, token: Extract<MacroToken, { kind: 'macro' }>): string {
  const splitter = new RegExp(`[${token.delimiters.replace(/[-\\\]^/]/g, '\\$&')}]`);
  let parts = value.split(splitter);
  if (token.reverse) parts.reverse();
  if (token.keep !== undefined && token.keep < parts.length) parts = parts.slice(parts.length - token.keep);
  return parts.join('.');
}

/** Expands parsed macro tokens with the given values (RFC 7208 7.3). */
export async function expandMacroString(tokens: MacroToken[], values: MacroValues): Promise<string> {
  let out = '';
  for (const token of tokens) {
    if (token.kind === 'literal') {
      out += token.text;
      continue;
    }
    const value = transform(await values(token.letter), token);
    out += token.urlEscape ? urlEscape(value) : value;
  }
  return out;
}
