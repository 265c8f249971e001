// Public API of @homing/dns: exported by name, nothing else.

/** The error class, its codes, and the checks that recognise it across duplicate installs. */
export { DnsError, type DnsErrorCode, isDnsError, isTemporaryDnsError } from './dns-error';
/** Creates a resolver; the types of its options, answers and records. */
export {
  type Answer,
  createResolver,
  type DnsLogger,
  type LookupOptions,
  type MxRecord,
  type Resolver,
  type ResolverOptions,
  type TlsaRecord,
} from './resolver';
