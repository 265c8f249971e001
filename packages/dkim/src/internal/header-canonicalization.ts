// Header canonicalization, RFC 6376 3.4.1 (simple) and 3.4.2 (relaxed), and the choice of which
// instance of a field each h= entry signs (5.4.2). Header text is handled as latin1 strings so that
// every byte (8-bit and UTF-8 included) maps to one char and back unchanged.
import type { HeaderField } from './header-block';

export type HeaderCanonicalization = 'simple' | 'relaxed';

/** One field in canonical form, without the final CRLF. */
export function canonicalizeHeaderField(raw: string, mode: HeaderCanonicalization): string {
  if (mode === 'simple') return raw;
  const colon = raw.indexOf(':');
  // 3.4.2: lowercase the name, unfold, reduce WSP runs to one SP, drop WSP around the colon and at the end.
  // Only SP and TAB count as WSP here: a regex \s would also eat byte 0xA0 of UTF-8 text.
  // The tests for CR, TAB and double spaces skip the regex passes on the usual, already tidy field.
  let name = raw.slice(0, colon);
  if (/[ \t]$/.test(name)) name = name.replace(/[ \t]+$/, '');
  let value = raw.slice(colon + 1);
  if (value.includes('\r')) value = value.replace(/\r\n/g, '');
  if (value.includes('\t') || value.includes('  ')) value = value.replace(/[ \t]+/g, ' ');
  const start = value.charCodeAt(0) === 0x20 ? 1 : 0;
  const end = value.length > start && value.charCodeAt(value.length - 1) === 0x20 ? value.length - 1 : value.length;
  return `${name.toLowerCase()}:${value.slice(start, end)}`;
}

/**
 * For each name in h= (in order), the field it signs: the last unused instance of that name, bottom-up
 * (5.4.2), or undefined when none is left (an oversigned name then signs the null string).
 */
export function selectSignedFields(
  fields: readonly HeaderField[],
  names: readonly string[],
): (HeaderField | undefined)[] {
  const byName = new Map<string, HeaderField[]>();
  for (const field of fields) {
    const list = byName.get(field.name);
    if (list) list.push(field);
    else byName.set(field.name, [field]);
  }
  const used = new Map<string, number>();
  return names.map((name) => {
    const key = name.toLowerCase();
    const list = byName.get(key) ?? [];
    const count = used.get(key) ?? 0;
    used.set(key, count + 1);
    return list[list.length - 1 - count];
  });
}

/** The h= list: each wanted name once per instance present, then each oversigned name once more (RFC 6376 8.15). */
export function signedHeaderNames(
  fields: readonly HeaderField[],
  wanted: readonly string[],
  oversigned: readonly string[],
): string[] {
  const counts = new Map<string, number>();
  for (const field of fields) counts.set(field.name, (counts.get(field.name) ?? 0) + 1);
  const names: string[] = [];
  const seen = new Set<string>();
  for (const name of wanted) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    for (let i = 0; i < (counts.get(key) ?? 0); i++) names.push(key);
  }
  for (const name of oversigned) names.push(name.toLowerCase());
  return names;
}
