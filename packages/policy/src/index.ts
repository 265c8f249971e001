// Public API of @homing/policy: exported by name, nothing else.

/**
 * MTA-STS (RFC 8461): discovery and fetching with a cache, MX matching.
 * @deprecated Import these from `@homing/mta-sts` (the same functions; it does not pull the verifier stack).
 */
/**
 * The HTTPS fetcher of MTA-STS policies, its options and response types.
 * @deprecated Import these from `@homing/mta-sts`.
 */
export {
  createHttpsFetcher,
  createMtaStsCache,
  getMtaStsPolicy,
  type HttpsFetcherOptions,
  type MtaStsCache,
  type MtaStsFetcher,
  type MtaStsFetchResponse,
  type MtaStsOptions,
  type MtaStsPolicy,
  type MtaStsResult,
  mtaStsAllowsMx,
} from '@homing/mta-sts';
/** Own-domain audit: its input, options, result and finding types. */
export {
  type AuditFinding,
  type AuditInput,
  type AuditOptions,
  type AuditResult,
  auditDomain,
  type DkimSelectorInput,
  type RecordToPublish,
} from './audit-domain';
/** SPF, DKIM, ARC and DMARC in one pass, rendered as Authentication-Results (RFC 8601). */
export {
  type ArcChainResult,
  type AuthenticateInput,
  type AuthenticateOptions,
  type AuthenticationResults,
  authenticate,
  type DkimSignatureResult,
} from './authenticate';
/** DMARC evaluation (RFC 7489, with np= of RFC 9091), its input, options and result. */
export { checkDmarc, type DmarcInput, type DmarcOptions, type DmarcResult } from './check-dmarc';
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
/** The pino-compatible logger the checks take (`PolicyLogger` is its deprecated name). */
export type { Logger, PolicyLogger } from './logger';
