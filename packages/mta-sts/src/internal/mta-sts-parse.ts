// RFC 8461 3.1 (the _mta-sts TXT record) and 3.2 (the policy file), parsed strictly.
import { MtaStsError } from '../mta-sts-error';

/** A parsed policy (RFC 8461 3.2). */
export interface ParsedMtaStsPolicy {
  mode: 'enforce' | 'testing' | 'none';
  /** MX patterns: host names, or "*.example.com" wildcards matching one label. */
  mx: string[];
  /** Seconds the policy may be cached (at most 31557600, RFC 8461 3.2). */
  maxAge: number;
}

/** RFC 8461 3.1: `v=STSv1; id=…;` with id 1–32 alphanumerics; undefined when the text is not such a record. */
export function parseMtaStsRecord(text: string): { id: string } | undefined {
  const fields = text.split(';').map((field) => field.trim());
  if (fields[0] !== 'v=STSv1') return undefined;
  let id: string | undefined;
  for (const field of fields.slice(1)) {
    if (field === '') continue;
    const match = /^([A-Za-z0-9_.-]+)=([\x21-\x3a\x3c\x3e-\x7e]*)$/.exec(field);
    if (!match) return undefined;
    if (match[1] === 'id') {
      if (id !== undefined || !/^[A-Za-z0-9]{1,32}$/.test(match[2] ?? '')) return undefined;
      id = match[2];
    }
  }
  return id === undefined ? undefined : { id };
}

const maxMaxAge = 31_557_600;
const mxPattern = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

function invalid(message: string): MtaStsError {
  return new MtaStsError('MTA_STS_POLICY', `invalid MTA-STS policy: ${message}`);
}

/** Parses a policy file strictly (RFC 8461 3.2); throws MtaStsError MTA_STS_POLICY. */
export function parseMtaStsPolicy(body: string): ParsedMtaStsPolicy {
  const values = new Map<string, string[]>();
  // sts-policy-term separators are CRLF or LF; a final line break is optional.
  const lines = body.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const match = /^([A-Za-z0-9_.-]{1,32}):[ \t]*([^\r\n]*?)[ \t]*$/.exec(line);
    if (!match) throw invalid(`line ${JSON.stringify(line)} is not "key: value"`);
    const key = match[1] as string;
    values.set(key, [...(values.get(key) ?? []), match[2] as string]);
  }
  const single = (key: string): string | undefined => {
    const found = values.get(key);
    if (found && found.length > 1) throw invalid(`"${key}" appears more than once`);
    return found?.[0];
  };
  if (single('version') !== 'STSv1') throw invalid('version must be STSv1');
  const mode = single('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    throw invalid('mode must be enforce, testing or none');
  const maxAgeText = single('max_age') ?? '';
  if (!/^[0-9]{1,10}$/.test(maxAgeText) || Number(maxAgeText) > maxMaxAge) {
    throw invalid(`max_age must be a number of seconds up to ${maxMaxAge}`);
  }
  const mx = (values.get('mx') ?? []).map((pattern) => pattern.toLowerCase().replace(/\.$/, ''));
  for (const pattern of mx)
    if (!mxPattern.test(pattern)) throw invalid(`mx "${pattern}" is not a host name or *.domain`);
  if (mx.length === 0 && mode !== 'none') throw invalid('a policy in enforce or testing mode needs mx lines');
  return { mode, mx, maxAge: Number(maxAgeText) };
}

/** RFC 8461 4.1: whether an MX host name matches a policy pattern (a wildcard covers one label). */
export function mxMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return name === pattern;
  const suffix = pattern.slice(1);
  return name.endsWith(suffix) && !name.slice(0, -suffix.length).includes('.') && name.length > suffix.length;
}
