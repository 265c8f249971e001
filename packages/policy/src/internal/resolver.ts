// The resolver contract of @homing/dns (packages/dns/README.md), as a structural type so that
// this package builds against any object that keeps it (the real resolver, or a test double).

/** Options every lookup takes. */
export interface LookupOptions {
  signal?: AbortSignal;
}

/** A successful answer: `records` is never empty (an empty answer is a NODATA failure). */
export interface Answer<T> {
  name: string;
  records: T[];
  ttl: number;
  authenticated: boolean;
}

/** An MX record. */
export interface MxRecord {
  exchange: string;
  priority: number;
}

/** A TLSA record. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Uint8Array;
}

/** The lookups policy checks need; @homing/dns's `Resolver` satisfies it. */
export interface Resolver {
  resolveA(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveAaaa(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveMx(name: string, options?: LookupOptions): Promise<Answer<MxRecord>>;
  resolveTxt(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolvePtr(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveCname(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveTlsa(name: string, options?: LookupOptions): Promise<Answer<TlsaRecord>>;
  reverse(ip: string, options?: LookupOptions): Promise<Answer<string>>;
}

/** The failure codes of @homing/dns. */
export type DnsFailureCode = 'NXDOMAIN' | 'NODATA' | 'SERVFAIL' | 'TIMEOUT' | 'REFUSED' | 'FORMERR' | 'BADNAME';

const dnsCodes = new Set<string>(['NXDOMAIN', 'NODATA', 'SERVFAIL', 'TIMEOUT', 'REFUSED', 'FORMERR', 'BADNAME']);

/** The DNS failure code of an error thrown by a resolver, or undefined when it is not a DNS failure. */
export function dnsFailureCode(error: unknown): DnsFailureCode | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && dnsCodes.has(code) ? (code as DnsFailureCode) : undefined;
}

/** True for the failures that mean "no such record" (NXDOMAIN, NODATA) rather than a fault. */
export function isNoRecord(error: unknown): boolean {
  const code = dnsFailureCode(error);
  return code === 'NXDOMAIN' || code === 'NODATA';
}

/** True for the failures that mean "try again later": SERVFAIL, TIMEOUT, REFUSED, FORMERR. */
export function isTemporary(error: unknown): boolean {
  const code = dnsFailureCode(error);
  return code === 'SERVFAIL' || code === 'TIMEOUT' || code === 'REFUSED' || code === 'FORMERR';
}
