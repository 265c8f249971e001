// RFC 8617 4.1.3 / RFC 6376 3.2: an ARC-Seal is a strict tag-list. mailauth reads it leniently
// (unknown tag names, duplicates, upper-case names and empty tag-specs pass), so the chain is
// checked here as well: any malformed ARC-Seal makes the chain fail (RFC 8617 5.2).

const requiredTags = ['a', 'b', 'cv', 'd', 'i', 's'];

/** Why an ARC-Seal header value is malformed, or undefined when it is well-formed. */
export function arcSealSyntaxError(value: string): string | undefined {
  const specs = value.split(';');
  // tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: only the last may be empty.
  if (specs.length > 1 && specs[specs.length - 1]?.trim() === '') specs.pop();
  const seen = new Set<string>();
  for (const spec of specs) {
    const match = /^\s*([A-Za-z][A-Za-z0-9_]*)\s*=/.exec(spec);
    if (!match) return `malformed tag "${spec.trim()}"`;
    const name = match[1] as string;
    if (seen.has(name)) return `duplicate tag "${name}"`;
    seen.add(name);
  }
  const missing = requiredTags.filter((tag) => !seen.has(tag));
  return missing.length > 0 ? `missing tag(s) ${missing.join(', ')}` : undefined;
}

/** The first syntax error among the ARC-Seal header fields (full "ARC-Seal: ..." lines), if any. */
export function findArcSealSyntaxError(lines: string[]): string | undefined {
  for (const line of lines) {
    const value = line.slice(line.indexOf(':') + 1);
    const error = arcSealSyntaxError(value);
    if (error) return `ARC-Seal: ${error}`;
  }
  return undefined;
}
