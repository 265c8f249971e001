// The resolver contract is @homing/dns's; only its types are used here, so that any object that
// keeps the contract (the real resolver, or a test double) can be passed in.
export type { Answer, LookupOptions, MxRecord, Resolver, TlsaRecord } from '@homing/dns';

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
