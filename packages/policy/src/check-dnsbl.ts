// DNS blocklists (RFC 5782): one A query per zone, the reason from TXT when listed.
import { PolicyError } from './errors';
import { classifyDnsblAnswer } from './internal/dnsbl-codes';
import { parseIp, reversedLabels } from './internal/ip-address';
import { dnsFailureCode, isNoRecord, type Resolver } from './internal/resolver';

/** Options of checkDnsbl. */
export interface DnsblOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  signal?: AbortSignal;
}

/** One zone's answer: listed (with the codes, their meanings and the TXT reason), not listed, or no answer. */
export interface DnsblZoneResult {
  zone: string;
  /** The name queried: reversed octets (IPv4) or nibbles (IPv6) under the zone. */
  query: string;
  /** `listed`; `not-listed` (NXDOMAIN); `no-answer` (a DNS failure or only the zone's error codes). */
  status: 'listed' | 'not-listed' | 'no-answer';
  /** Listing codes (127.0.0.x) with their meaning where known. */
  codes: { code: string; meaning: string }[];
  /** The zone's TXT reason, when listed and given. */
  reason?: string;
  /** Why there was no answer (DNS failure code, or the zone's error code and meaning). */
  error?: string;
}

/** The outcome of checkDnsbl. */
export interface DnsblResult {
  ip: string;
  /** True when at least one zone lists the address. */
  listed: boolean;
  zones: DnsblZoneResult[];
}

function checkZoneName(zone: string): string {
  const name = zone.trim().replace(/\.$/, '').toLowerCase();
  const labels = name.split('.');
  if (labels.length < 2 || labels.some((label) => !/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))) {
    throw new PolicyError('BAD_INPUT', `not a DNSBL zone name: ${JSON.stringify(zone)} (e.g. zen.spamhaus.org)`);
  }
  return name;
}

async function checkZone(labels: string[], zone: string, options: DnsblOptions): Promise<DnsblZoneResult> {
  const query = `${labels.join('.')}.${zone}`;
  const lookupOptions = { signal: options.signal };
  let records: string[];
  try {
    records = (await options.resolver.resolveA(query, lookupOptions)).records;
  } catch (error) {
    if (isNoRecord(error)) return { zone, query, status: 'not-listed', codes: [] };
    const code = dnsFailureCode(error);
    if (code) return { zone, query, status: 'no-answer', codes: [], error: `DNS ${code}` };
    throw error;
  }
  const classified = records.map((record) => classifyDnsblAnswer(zone, record));
  const listings = classified.filter((item) => item.kind === 'listed');
  if (listings.length === 0) {
    const error = classified.map((item) => `${item.code} ${item.meaning}`).join('; ');
    return { zone, query, status: 'no-answer', codes: [], error };
  }
  let reason: string | undefined;
  try {
    reason = (await options.resolver.resolveTxt(query, lookupOptions)).records.join(' ');
  } catch (error) {
    // RFC 5782 2.1: the TXT record is optional; without it the listing stands.
    if (!dnsFailureCode(error)) throw error;
  }
  return { zone, query, status: 'listed', codes: listings.map(({ code, meaning }) => ({ code, meaning })), reason };
}

/** Queries each DNSBL zone for the address (IPv4 reversed octets, IPv6 reversed nibbles, RFC 5782 2.1, 2.4). */
export async function checkDnsbl(ip: string, zones: readonly string[], options: DnsblOptions): Promise<DnsblResult> {
  const address = parseIp(ip);
  const names = zones.map(checkZoneName);
  if (names.length === 0) throw new PolicyError('BAD_INPUT', 'no DNSBL zone given (e.g. zen.spamhaus.org)');
  const labels = reversedLabels(address);
  const results = await Promise.all(names.map((zone) => checkZone(labels, zone, options)));
  return { ip: address.text, listed: results.some((zone) => zone.status === 'listed'), zones: results };
}
