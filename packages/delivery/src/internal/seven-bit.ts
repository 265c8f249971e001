import { isAscii } from 'node:buffer';

// RFC 6152 3 (from RFC 1652): a message with 8-bit octets must not go to a server that does not
// offer 8BITMIME; the client either converts it to 7 bits or fails it. As Postfix does, each leaf
// MIME entity (the top-level body when it is not multipart, or each leaf part of a multipart)
// whose body has 8-bit octets is re-encoded as quoted-printable (RFC 2045 6.7). What cannot be
// converted fails: 8-bit octets in a header (they would need SMTPUTF8), in a message/* entity
// (RFC 2046 5.2.1: only 7bit, 8bit or binary encodings), in a body declared base64 or
// quoted-printable, in a multipart's preamble or epilogue, or a multipart without a boundary.

/** The message made 7-bit, or why it cannot be. */
export type SevenBitResult = { ok: true; message: Buffer } | { ok: false; reason: string };

class Unconvertible extends Error {}

// Lines longer than this are split with soft line breaks (RFC 2045 6.7 rule 5: at most 76 with the `=`).
const QP_LINE = 76;

const eightBit = (text: string): boolean => /[\x80-\xff]/.test(text);

/** The value of the first header field `name` in a header section, unfolded (RFC 5322 2.2.3). */
function fieldValue(headers: readonly string[], name: string): string | undefined {
  const prefix = `${name.toLowerCase()}:`;
  const start = headers.findIndex((line) => line.toLowerCase().startsWith(prefix));
  if (start < 0) return undefined;
  let value = headers[start]!.slice(prefix.length);
  for (let index = start + 1; index < headers.length && /^[ \t]/.test(headers[index]!); index += 1) {
    value += headers[index];
  }
  return value.trim();
}

/** The header section without the fields `name` (with their folded continuation lines). */
function withoutField(headers: readonly string[], name: string): string[] {
  const prefix = `${name.toLowerCase()}:`;
  const kept: string[] = [];
  let dropping = false;
  for (const line of headers) {
    if (/^[ \t]/.test(line) && dropping) continue;
    dropping = line.toLowerCase().startsWith(prefix);
    if (!dropping) kept.push(line);
  }
  return kept;
}

function hex(code: number): string {
  return `=${code.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** One line (latin1, no line end) as quoted-printable lines: soft breaks keep each under 76 octets. */
export function quotedPrintableLine(line: string): string[] {
  const tokens: string[] = [];
  for (let index = 0; index < line.length; index += 1) {
    const code = line.charCodeAt(index);
    const last = index === line.length - 1;
    // RFC 2045 6.7 rules 2 and 3: printable ASCII but `=` as is; space and TAB as is except at the line end.
    const literal = (code >= 33 && code <= 126 && code !== 61) || ((code === 32 || code === 9) && !last);
    tokens.push(literal ? line[index]! : hex(code));
  }
  const out: string[] = [];
  let current = '';
  for (const token of tokens) {
    if (current.length + token.length > QP_LINE - 1) {
      out.push(`${current}=`);
      current = '';
    }
    current += token;
  }
  out.push(current);
  return out;
}

/** Splits `text` (latin1) into lines without their line ends (CRLF, or a bare LF). */
function splitLines(text: string): string[] {
  return text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/**
 * One MIME entity (header lines, an empty line, body lines) made 7-bit. `top` is the message
 * itself: a message without MIME-Version gets one, and a Content-Type naming its unknown charset.
 */
function convertEntity(lines: string[], defaultType: string, top: boolean): string[] {
  const blank = lines.indexOf('');
  const headers = blank < 0 ? lines : lines.slice(0, blank);
  const body = blank < 0 ? [] : lines.slice(blank + 1);
  if (headers.some(eightBit)) {
    throw new Unconvertible('a header field holds 8-bit octets, which only SMTPUTF8 could carry (RFC 6532)');
  }
  if (!body.some(eightBit)) return lines;
  const contentType = fieldValue(headers, 'Content-Type');
  const type = (contentType ?? defaultType).split(';')[0]!.trim().toLowerCase();
  const encoding = (fieldValue(headers, 'Content-Transfer-Encoding') ?? '7bit').toLowerCase();
  if (type.startsWith('multipart/')) {
    const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(contentType ?? '');
    const boundary = match?.[1] ?? match?.[2];
    if (boundary === undefined) throw new Unconvertible(`a ${type} entity has no boundary parameter`);
    return [...headers, '', ...convertMultipart(body, boundary, type)];
  }
  if (type.startsWith('message/')) {
    throw new Unconvertible(`a ${type} entity holds 8-bit octets and cannot be re-encoded (RFC 2046 5.2.1)`);
  }
  if (encoding === 'base64' || encoding === 'quoted-printable') {
    throw new Unconvertible(`a part declared ${encoding} holds 8-bit octets`);
  }
  let converted = withoutField(headers, 'Content-Transfer-Encoding');
  if (top && fieldValue(headers, 'MIME-Version') === undefined) {
    // RFC 1428 3: an 8-bit message without MIME gets MIME headers, its charset labelled unknown-8bit.
    converted = withoutField(converted, 'Content-Type');
    converted.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=unknown-8bit');
  }
  converted.push('Content-Transfer-Encoding: quoted-printable');
  // A message that ended with a line end splits into a last empty string: keep that line end as it is.
  const ending = body.at(-1) === '' ? [''] : [];
  const encoded = (ending.length > 0 ? body.slice(0, -1) : body).flatMap(quotedPrintableLine);
  return [...converted, '', ...encoded, ...ending];
}

/** The body of a multipart entity (RFC 2046 5.1.1) with each part made 7-bit. */
function convertMultipart(body: string[], boundary: string, type: string): string[] {
  const delimiter = `--${boundary}`;
  const isDelimiter = (line: string) =>
    line.startsWith(delimiter) && /^(--)?[ \t]*$/.test(line.slice(delimiter.length));
  const out: string[] = [];
  let part: string[] | undefined;
  let closed = false;
  for (const line of body) {
    if (!closed && isDelimiter(line)) {
      if (part !== undefined)
        out.push(...convertEntity(part, type === 'multipart/digest' ? 'message/rfc822' : 'text/plain', false));
      out.push(line);
      closed = line.slice(delimiter.length).startsWith('--');
      part = closed ? undefined : [];
      continue;
    }
    if (part !== undefined) part.push(line);
    else {
      if (eightBit(line)) throw new Unconvertible(`the preamble or epilogue of a ${type} entity holds 8-bit octets`);
      out.push(line);
    }
  }
  if (part !== undefined) out.push(...convertEntity(part, 'text/plain', false));
  return out;
}

/** Converts a message to 7 bits for a server without 8BITMIME (see the top of this file). */
export function toSevenBit(message: Uint8Array): SevenBitResult {
  const text = Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('latin1');
  try {
    const lines = convertEntity(splitLines(text), 'text/plain', true);
    return { ok: true, message: Buffer.from(lines.join('\r\n'), 'latin1') };
  } catch (error) {
    if (error instanceof Unconvertible) return { ok: false, reason: error.message };
    throw error;
  }
}

/** Whether bytes hold an octet above 127. */
export function hasEightBit(bytes: Uint8Array): boolean {
  return !isAscii(bytes);
}
