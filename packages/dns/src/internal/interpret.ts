import { DnsError } from '../dns-error';
import { canonicalName } from './name';
import type { Response } from './read-response';

/** The outcome of one question, as cached: records with their TTL, or a failure with its negative TTL. */
export type Outcome =
  | { kind: 'answer'; records: unknown[]; ttl: number; authenticated: boolean }
  | { kind: 'failure'; error: DnsError; negativeTtl: number; nameError?: boolean };

// RFC 2181 8: a TTL with the top bit set is to be treated as zero.
const ttlOf = (ttl: number): number => (ttl > 0x7fffffff ? 0 : ttl);

/**
 * Reads a NOERROR or NXDOMAIN response: follows the CNAME chain from the name asked through the answer section
 * (RFC 1034 3.6.2) and keeps the records of the asked type, or says NXDOMAIN / NODATA with the negative TTL taken
 * from the authority section's SOA (RFC 2308 5: the smaller of the SOA's TTL and its MINIMUM field).
 */
export function interpret(response: Response, name: string, type: string): Outcome {
  const answers = response.answers;
  const asked = canonicalName(name);
  let ttl = Number.POSITIVE_INFINITY;
  let chain: Set<string> | undefined;
  if (type !== 'CNAME' && hasCname(answers)) {
    chain = new Set([asked]);
    // Follow CNAMEs in order of the chain, bounded by the number of records.
    for (let hop = 0; hop < answers.length; hop++) {
      const link = answers.find(
        (record) =>
          record.type === 'CNAME' &&
          (chain as Set<string>).has(record.owner) &&
          !(chain as Set<string>).has(canonicalName(record.data as string)),
      );
      if (link === undefined) break;
      chain.add(canonicalName(link.data as string));
      ttl = Math.min(ttl, ttlOf(link.ttl));
    }
  }
  const records: unknown[] = [];
  for (const record of answers) {
    if (record.type !== type || !(chain === undefined ? record.owner === asked : chain.has(record.owner))) continue;
    records.push(record.data);
    ttl = Math.min(ttl, ttlOf(record.ttl));
  }
  if (response.rcode === 'NXDOMAIN' || records.length === 0) {
    const code = response.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NODATA';
    const message =
      code === 'NXDOMAIN' ? `${name} does not exist (NXDOMAIN)` : `${name} has no ${type} record (NODATA)`;
    return {
      kind: 'failure',
      error: new DnsError(code, message, { hostname: name, type }),
      // RFC 2308 5: without an SOA, negative answers are not cached.
      negativeTtl: response.soa === undefined ? 0 : Math.min(ttlOf(response.soa.ttl), response.soa.minimum),
      // RFC 2308 5: an NXDOMAIN about the name asked (not about a CNAME's target) holds for every type.
      nameError: code === 'NXDOMAIN' && (chain === undefined || chain.size === 1),
    };
  }
  return { kind: 'answer', records, ttl, authenticated: response.authenticated };
}

function hasCname(answers: Response['answers']): boolean {
  for (const record of answers) if (record.type === 'CNAME') return true;
  return false;
}
