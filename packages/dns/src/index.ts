// Public API of @homing/dns: exported by name, nothing else.

/**
 * The error of the package and how to recognise it:
 * - `DnsError`: the one error class; `code` says which kind of failure it was.
 * - `DnsErrorCode`: NXDOMAIN, NODATA, SERVFAIL, TIMEOUT, REFUSED, FORMERR, BADNAME, BADCONFIG, BADZONE.
 * - `isDnsError(error, code?)`: true for a DnsError (optionally of one code), also across duplicate installs.
 * - `isTemporaryDnsError(error)`: true for SERVFAIL, TIMEOUT, REFUSED, FORMERR (may pass if asked again later).
 */
export { DnsError, type DnsErrorCode, isDnsError, isTemporaryDnsError } from './dns-error';
/**
 * The resolver:
 * - `createResolver(options?)`: a resolver with typed failures, a TTL cache and merged concurrent queries.
 * - `Resolver`: one method per record type, and `reverse(ip)`.
 * - `ResolverOptions`: servers, timeoutMs, tries, cache, ednsUdpSize, logger.
 * - `LookupOptions`: `{ signal?: AbortSignal }`.
 * - `Answer<T>`: records, their TTL left, and the AD bit.
 * - `MxRecord`, `TlsaRecord`: record shapes; `Logger`: the pino-compatible logger every @homing package takes (`DnsLogger` is its deprecated name).
 */
export {
  type Answer,
  createResolver,
  type DnsLogger,
  type Logger,
  type LookupOptions,
  type MxRecord,
  type Resolver,
  type ResolverOptions,
  type TlsaRecord,
} from './resolver';
