import type { LookupFunction } from 'node:net';
import type { Resolver } from '@homing/dns';
import {
  createHttpsFetcher,
  createMtaStsCache,
  getMtaStsPolicy,
  type HttpsFetcherOptions,
  type MtaStsPolicy,
} from '@homing/mta-sts';

/**
 * Where delivery gets a domain's MTA-STS policy (`@homing/mta-sts`'s `MtaStsPolicy`, matched with
 * its `mtaStsAllowsMx`): resolves to the policy, or null when the domain publishes none. A
 * rejection is treated as "no usable policy" unless a cached enforce policy applies (that caching
 * is the source's job; `createMtaStsSource` does it).
 */
export type MtaStsPolicySource = (domain: string, options?: { signal?: AbortSignal }) => Promise<MtaStsPolicy | null>;

/** Options of `createMtaStsSource`. */
export interface MtaStsSourceOptions {
  /** Looks up the `_mta-sts` TXT record and the policy host's addresses. */
  resolver: Resolver;
  /** Options of the HTTPS fetch of the policy (a test CA, a port); its host lookup is `resolver`'s. */
  https?: Omit<HttpsFetcherOptions, 'lookup'>;
}

/** Looks host names up with `resolver` (A first, then AAAA), for the HTTPS fetch of a policy. */
function lookupWith(resolver: Resolver): LookupFunction {
  return ((host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const found = (records: string[], family: 4 | 6) =>
      options?.all
        ? callback(
            null,
            records.map((address) => ({ address, family })),
          )
        : callback(null, records[0], family);
    resolver
      .resolveA(host)
      .then((answer) => found(answer.records, 4))
      .catch(() =>
        resolver
          .resolveAaaa(host)
          .then((answer) => found(answer.records, 6))
          .catch((error: unknown) => callback(error)),
      );
  }) as unknown as LookupFunction;
}

/**
 * `@homing/mta-sts`'s MTA-STS discovery (RFC 8461: the `_mta-sts` TXT record, the policy over
 * HTTPS, a cache honouring `max_age`) as delivery's policy source: resolves to the policy, to null
 * when the domain publishes none, and rejects when a policy is announced but cannot be had (the
 * agent then delivers without one, as RFC 8461 5.1 says).
 */
export function createMtaStsSource(options: MtaStsSourceOptions): MtaStsPolicySource {
  const { resolver } = options;
  const fetch = createHttpsFetcher({ ...options.https, lookup: lookupWith(resolver) });
  const cache = createMtaStsCache();
  return async (domain, call = {}) => {
    const result = await getMtaStsPolicy(domain, {
      resolver,
      fetch,
      cache,
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    });
    if (result.status === 'policy' && result.policy !== undefined) return result.policy;
    if (result.status === 'none') return null;
    throw new Error(result.reason);
  };
}
