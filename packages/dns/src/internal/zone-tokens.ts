// Splits RFC 1035 5.1 master-file text into logical lines of tokens, keeping each token's line and column.

/** One token: its text (escapes kept for names, resolved for quoted strings) and where it starts. */
export interface ZoneToken {
  text: string;
  /** The octets of a quoted string or bare word with escapes resolved (RFC 1035 5.1: `\X`, `\DDD`). */
  octets: Buffer;
  quoted: boolean;
  line: number;
  column: number;
}

/** A logical line: parentheses join physical lines (RFC 1035 5.1). */
export interface ZoneLine {
  tokens: ZoneToken[];
  /** True when the line starts with a blank: the owner is the previous record's (RFC 1035 5.1). */
  inheritsOwner: boolean;
  line: number;
}

/** Where tokenizing failed. */
export class ZoneSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

/** Tokenizes a whole master file. */
export function tokenizeZone(text: string): ZoneLine[] {
  const lines: ZoneLine[] = [];
  let current: ZoneLine | undefined;
  let depth = 0;
  let openedAt = { line: 0, column: 0 };
  let line = 1;
  let column = 1;
  let atLineStart = true;
  let index = 0;

  const advance = (): string => {
    // Take a whole code point, so that a character outside the BMP is not split into lone surrogates.
    const code = text.charCodeAt(index);
    const width = code >= 0xd800 && code <= 0xdbff ? 2 : 1;
    const char = text.slice(index, index + width);
    index += width;
    if (char === '\n') {
      line++;
      column = 1;
    } else column++;
    return char;
  };
  const ensureLine = (inheritsOwner: boolean): ZoneLine => {
    current ??= { tokens: [], inheritsOwner, line };
    return current;
  };

  while (index < text.length) {
    const char = text[index] as string;
    if (char === '\n') {
      advance();
      if (depth === 0) {
        if (current && current.tokens.length > 0) lines.push(current);
        current = undefined;
        atLineStart = true;
      }
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r') {
      if (atLineStart && depth === 0) ensureLine(true);
      atLineStart = false;
      advance();
      continue;
    }
    atLineStart = false;
    if (char === ';') {
      while (index < text.length && text[index] !== '\n') advance();
      continue;
    }
    if (char === '(') {
      if (depth === 0) openedAt = { line, column };
      depth++;
      ensureLine(false);
      advance();
      continue;
    }
    if (char === ')') {
      if (depth === 0) throw new ZoneSyntaxError('")" without a matching "("', line, column);
      depth--;
      advance();
      continue;
    }
    const start = { line, column };
    const target = ensureLine(false);
    if (char === '"') {
      advance();
      const bytes: number[] = [];
      let raw = '';
      for (;;) {
        if (index >= text.length) throw new ZoneSyntaxError('a quoted string is not closed', start.line, start.column);
        const next = advance();
        if (next === '"') break;
        if (next === '\\') {
          const escaped = readEscape(text, index, line, column);
          const before = index;
          for (let i = 0; i < escaped.consumed; i++) advance();
          bytes.push(...escaped.bytes);
          raw += `\\${text.slice(before, index)}`;
          continue;
        }
        bytes.push(...Buffer.from(next));
        raw += next;
      }
      target.tokens.push({ text: raw, octets: Buffer.from(bytes), quoted: true, ...start });
      continue;
    }
    const bytes: number[] = [];
    let raw = '';
    while (index < text.length && !/[\s;()"]/.test(text[index] as string)) {
      const next = advance();
      raw += next;
      if (next === '\\') {
        const escaped = readEscape(text, index, line, column);
        const before = index;
        for (let i = 0; i < escaped.consumed; i++) advance();
        bytes.push(...escaped.bytes);
        raw += text.slice(before, index);
        continue;
      }
      bytes.push(...Buffer.from(next));
    }
    target.tokens.push({ text: raw, octets: Buffer.from(bytes), quoted: false, ...start });
  }
  if (depth > 0) throw new ZoneSyntaxError('"(" is never closed', openedAt.line, openedAt.column);
  if (current && current.tokens.length > 0) lines.push(current);
  return lines;
}

/** RFC 1035 5.1: `\DDD` is the octet with decimal value DDD, `\X` is X itself. */
function readEscape(text: string, index: number, line: number, column: number): { bytes: number[]; consumed: number } {
  const digits = /^\d{3}/.exec(text.slice(index, index + 3));
  if (digits) {
    const value = Number(digits[0]);
    if (value > 255) throw new ZoneSyntaxError(`\\${digits[0]} is not an octet (0-255)`, line, column - 1);
    return { bytes: [value], consumed: 3 };
  }
  const point = text.codePointAt(index);
  if (point === undefined || point === 0x0a) throw new ZoneSyntaxError('a backslash ends the line', line, column - 1);
  return { bytes: [...Buffer.from(String.fromCodePoint(point))], consumed: 1 };
}
