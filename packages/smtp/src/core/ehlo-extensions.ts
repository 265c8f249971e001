import type { Reply } from './reply';

/**
 * What a server announced in its EHLO reply (RFC 5321 4.1.1.1): each extension keyword,
 * upper-cased, with its parameters. Empty after a HELO fallback.
 */
export interface ServerExtensions {
  /** The server's name: the first word of the EHLO reply's first line. */
  readonly domain: string;
  /** Every keyword with its parameters, e.g. `SIZE` → `['10240000']`, `AUTH` → `['PLAIN', 'LOGIN']`. */
  readonly keywords: ReadonlyMap<string, readonly string[]>;
  /** SIZE (RFC 1870): the announced limit in octets; 0 means announced without a limit; undefined when absent. */
  readonly size: number | undefined;
  /** AUTH (RFC 4954) mechanisms, upper-cased. */
  readonly auth: readonly string[];
  readonly pipelining: boolean;
  readonly startTls: boolean;
  readonly eightBitMime: boolean;
  readonly smtpUtf8: boolean;
  readonly chunking: boolean;
  readonly dsn: boolean;
  readonly enhancedStatusCodes: boolean;
}

/** Reads the extensions out of a 250 reply to EHLO. Unknown or malformed lines are kept or skipped, never fatal. */
export function parseEhloReply(reply: Reply): ServerExtensions {
  const keywords = new Map<string, string[]>();
  const [first = '', ...rest] = reply.lines;
  for (const line of rest) {
    const words = line.trim().split(/[ \t]+/);
    const keyword = words[0]?.toUpperCase();
    // RFC 5321 4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
    if (!keyword || !/^[A-Z0-9][A-Z0-9-]*$/.test(keyword)) continue;
    keywords.set(keyword, words.slice(1));
  }
  // Some old servers announce AUTH=LOGIN PLAIN (pre-RFC 4954 syntax); take it as AUTH.
  for (const line of rest) {
    const match = /^AUTH=(.*)$/i.exec(line.trim());
    if (match && !keywords.has('AUTH')) keywords.set('AUTH', match[1]!.trim().split(/[ \t]+/));
  }
  const sizeParam = keywords.get('SIZE')?.[0];
  let size: number | undefined;
  if (keywords.has('SIZE')) {
    size = sizeParam !== undefined && /^\d{1,15}$/.test(sizeParam) ? Number(sizeParam) : 0;
  }
  return {
    domain: first.trim().split(/[ \t]+/)[0] ?? '',
    keywords,
    size,
    auth: (keywords.get('AUTH') ?? []).map((mechanism) => mechanism.toUpperCase()),
    pipelining: keywords.has('PIPELINING'),
    startTls: keywords.has('STARTTLS'),
    eightBitMime: keywords.has('8BITMIME'),
    smtpUtf8: keywords.has('SMTPUTF8'),
    chunking: keywords.has('CHUNKING'),
    dsn: keywords.has('DSN'),
    enhancedStatusCodes: keywords.has('ENHANCEDSTATUSCODES'),
  };
}

/** The extensions of a server that only answered HELO: none at all. */
export function noExtensions(domain: string): ServerExtensions {
  return parseEhloReply({ code: 250, lines: [domain] });
}
