// The DKIM key record (RFC 6376 3.6.1): a tag list published as TXT at selector._domainkey.domain.

export interface ParsedKeyRecord {
  tags: Map<string, string>;
}

/** Parses a tag list (RFC 6376 3.2); returns a reason string when it is not one. */
export function parseTagList(text: string): ParsedKeyRecord | string {
  const tags = new Map<string, string>();
  const parts = text.split(';');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!.trim();
    if (part === '') {
      if (i === parts.length - 1) continue; // a trailing ";" is allowed
      return 'it has an empty tag (";;")';
    }
    const equals = part.indexOf('=');
    if (equals === -1) return `the part "${part}" is not of the form tag=value`;
    const name = part.slice(0, equals).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return `"${name}" is not a valid tag name`;
    if (tags.has(name)) return `the tag ${name}= appears twice`;
    tags.set(name, part.slice(equals + 1).trim());
  }
  return { tags };
}

/** Splits a TXT value into character-strings of at most 255 octets, as a zone file needs (RFC 1035 3.3.14). */
export function splitTxtValue(value: string): string[] {
  const strings: string[] = [];
  for (let offset = 0; offset < value.length; offset += 255) strings.push(value.slice(offset, offset + 255));
  return strings.length > 0 ? strings : [''];
}
