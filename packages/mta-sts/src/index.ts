// Public API of @homing/mta-sts: exported by name, nothing else.

/** MTA-STS (RFC 8461): discovery and fetching with a cache, and MX matching. */
export {
  createMtaStsCache,
  getMtaStsPolicy,
  type MtaStsCache,
  type MtaStsOptions,
  type MtaStsPolicy,
  type MtaStsResult,
  mtaStsAllowsMx,
} from './get-mta-sts-policy';
/** The resolver contract (that of @homing/dns) getMtaStsPolicy takes. */
export type { Resolver } from './internal/resolver';
/** The pino-compatible logger getMtaStsPolicy takes. */
export type { Logger } from './logger';
/** The one error class of the package, and its recogniser. */
export { isMtaStsError, MtaStsError, type MtaStsErrorCode } from './mta-sts-error';
/** The HTTPS fetcher of MTA-STS policies, its options and response types. */
export {
  createHttpsFetcher,
  type HttpsFetcherOptions,
  type MtaStsFetcher,
  type MtaStsFetchResponse,
} from './mta-sts-fetcher';
