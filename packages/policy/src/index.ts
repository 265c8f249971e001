// Public API of @homing/policy: exported by name, nothing else.

/** DNS blocklist check, its options and results. */
export { checkDnsbl, type DnsblOptions, type DnsblResult, type DnsblZoneResult } from './check-dnsbl';
/** Reverse DNS and forward-confirmed reverse DNS checks, their options and results. */
export { checkFcrdns, checkRdns, type FcrdnsResult, type RdnsOptions, type RdnsResult } from './check-rdns';
/** SPF (RFC 7208): the check, its input, options and result types. */
export { checkSpf, type SpfInput, type SpfOptions, type SpfResult, type SpfResultWord } from './check-spf';
/** The one error class of the package, and its recogniser. */
export { isPolicyError, PolicyError, type PolicyErrorCode } from './errors';
/** The resolver contract (that of @homing/dns) the checks take. */
export type { Answer, MxRecord, Resolver } from './internal/resolver';
