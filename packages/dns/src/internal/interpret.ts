import { DnsError } from '../dns-error';
import { canonicalName } from './name';
import type { Response, WireRecord } from './transport';

/** The outcome of one question, as cached: records with their TTL, or a failure with its negative TTL. */
export type Outcome =
  | { kind: 'answer'; records: unknown[]; ttl: number; authenticated: boolean }
  | { kind: 'failure'; error: DnsError; negativeTtl: number; nameError?: boolean };

// RFC 2181 8: a TTL with the top bit set is to be treated as zero.
const ttlOf = (record: { ttl?: number }): number => {
  const ttl = record.ttl ?? 0;
  return ttl > 0x7fffffff ? 0 : ttl;
};

/**
 * Reads a NOERROR or NXDOMAIN response: follows the CNAME chain from the name asked through the answer section
 * (RFC 1034 3.6.2) and keeps the records of the asked type, or says NXDOMAIN / NODATA with the negative TTL taken
 * from the authority section's SOA (RFC 2308 5: the smaller of the SOA's TTL and its MINIMUM field).
 */
export function interpret(response: Response, name: string, type: string): Outcome {
  const answers = (response.answers ?? []) as WireRecord[];
  const authenticated = response.flag_ad === true;
  const chain = new Set([canonicalName(name)]);
  let ttl = Number.POSITIVE_INFINITY;
  if (type !== 'CNAME') {
    // Follow CNAMEs in order of the chain, bounded by the number of records.
    for (let hop = 0; hop < answers.length; hop++) {
      const link = answers.find(
        (record) =>
          record.type === 'CNAME' &&
          chain.has(canonicalName(record.name)) &&
          !chain.has(canonicalName(record.data as string)),
      );
      if (link === undefined) break;
      chain.add(canonicalName(link.data as string));
      ttl = Math.min(ttl, ttlOf(link));
    }
  }
  const matching = answers.filter(
    (record) =>
      record.type === type &&
      (record.class === undefined || record.class === 'IN') &&
      chain.has(canonicalName(record.name)),
  );
  if (response.rcode === 'NXDOMAIN' || matching.length === 0) {
    const code = response.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NODATA';
    const message =
      code === 'NXDOMAIN' ? `${name} does not exist (NXDOMAIN)` : `${name} has no ${type} record (NODATA)`;
    return {
      kind: 'failure',
      error: new DnsError(code, message, { hostname: name, type }),
      negativeTtl: soaTtl(response),
      // RFC 2308 5: an NXDOMAIN about the name asked (not about a CNAME's target) holds for every type.
      nameError: code === 'NXDOMAIN' && chain.size === 1,
    };
  }
  for (const record of matching) ttl = Math.min(ttl, ttlOf(record));
  return { kind: 'answer', records: matching.map((record) => convert(record)), ttl, authenticated };
}

function soaTtl(response: Response): number {
  const soa = ((response.authorities ?? []) as WireRecord[]).find((record) => record.type === 'SOA');
  if (soa === undefined) return 0; // RFC 2308 5: without an SOA, negative answers are not cached
  return Math.min(ttlOf(soa), (soa.data as { minimum: number }).minimum);
}

/** Maps dns-packet's record data to the README's record shapes. */
function convert(record: WireRecord): unknown {
  const data = record.data as unknown;
  switch (record.type) {
    case 'MX': {
      const mx = data as { preference?: number; exchange: string };
      return { exchange: mx.exchange, priority: mx.preference ?? 0 };
    }
    case 'TXT': {
      // RFC 7208 3.3: the character-strings of one record are joined with nothing between them.
      const parts = (Array.isArray(data) ? data : [data]) as (Buffer | string)[];
      return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part))).toString('utf8');
    }
    case 'TLSA': {
      const tlsa = data as { usage: number; selector: number; matchingType: number; certificate: Buffer };
      return {
        usage: tlsa.usage,
        selector: tlsa.selector,
        matchingType: tlsa.matchingType,
        data: new Uint8Array(tlsa.certificate),
      };
    }
    default:
      return data;
  }
}
