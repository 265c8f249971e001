// RFC 8461 MTA-STS policy discovery: the _mta-sts TXT record and its id, the policy over HTTPS,
// cached for max_age and fetched again when the id changes (RFC 8461 3.3, 5.1).

import { mxMatches, parseMtaStsPolicy, parseMtaStsRecord } from './internal/mta-sts-parse';
import { isDnsFailure, isNoRecord, type Resolver } from './internal/resolver';
import type { Logger } from './logger';
import { isMtaStsFailure, MtaStsError } from './mta-sts-error';
import { createHttpsFetcher, type MtaStsFetcher } from './mta-sts-fetcher';

/** An MTA-STS policy in force for a domain. */
export interface MtaStsPolicy {
  domain: string;
  /** The id of the TXT record the policy was fetched under. */
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  /** MX patterns; use `mtaStsAllowsMx(policy, host)` to match. */
  mx: string[];
  /** Seconds the policy may be cached. */
  maxAge: number;
  /** When it was fetched and until when it holds (ms since the epoch). */
  fetchedAt: number;
  expiresAt: number;
}

/** Where policies are kept between calls, by domain. */
export interface MtaStsCache {
  get(domain: string): MtaStsPolicy | undefined;
  set(domain: string, policy: MtaStsPolicy): void;
  delete(domain: string): void;
}

/** Options of getMtaStsPolicy. */
export interface MtaStsOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  /** The HTTPS fetcher (default: createHttpsFetcher()). */
  fetch?: MtaStsFetcher;
  /** Policy cache (default: none, every call fetches); share one from createMtaStsCache(). */
  cache?: MtaStsCache;
  /** Structured logger (pino-compatible): fetch failures at warn. */
  logger?: Logger;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  signal?: AbortSignal;
}

/**
 * The outcome: `policy` (fetched now or from the cache), `none` (the domain publishes no
 * policy), or `error` (a policy is announced but could not be fetched or parsed, and none is cached).
 */
export interface MtaStsResult {
  status: 'policy' | 'none' | 'error';
  policy?: MtaStsPolicy;
  /** True when the policy came from the cache. */
  fromCache: boolean;
  reason: string;
}

/** A bounded in-memory MtaStsCache (oldest entry dropped past maxEntries, default 10000). */
export function createMtaStsCache(maxEntries = 10_000): MtaStsCache {
  const entries = new Map<string, MtaStsPolicy>();
  return {
    get: (domain) => entries.get(domain),
    set: (domain, policy) => {
      entries.delete(domain);
      entries.set(domain, policy);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    delete: (domain) => {
      entries.delete(domain);
    },
  };
}

/** RFC 8461 4.1: whether the policy lists this MX host. */
export function mtaStsAllowsMx(policy: MtaStsPolicy, host: string): boolean {
  return policy.mx.some((pattern) => mxMatches(pattern, host));
}

async function discoverId(domain: string, options: MtaStsOptions): Promise<string | undefined | 'temperror'> {
  try {
    const records = (await options.resolver.resolveTxt(`_mta-sts.${domain}`, { signal: options.signal })).records;
    const parsed = records.filter((text) => text.startsWith('v=STSv1')).map(parseMtaStsRecord);
    // RFC 8461 3.1: zero or several STS records, or an invalid one, means no policy is announced.
    return parsed.length === 1 ? parsed[0]?.id : undefined;
  } catch (error) {
    if (isNoRecord(error)) return undefined;
    if (isDnsFailure(error)) return 'temperror';
    throw error;
  }
}

async function fetchPolicy(domain: string, id: string, options: MtaStsOptions, now: number): Promise<MtaStsPolicy> {
  const fetcher = options.fetch ?? createHttpsFetcher();
  const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
  const response = await fetcher(url, { signal: options.signal });
  // RFC 8461 3.3: only a 200 counts (redirects are not followed); the media type is text/plain.
  if (response.status !== 200) throw new MtaStsError('MTA_STS_FETCH', `${url} answered HTTP ${response.status}`);
  if (!/^text\/plain\s*(;|$)/i.test(response.contentType ?? '')) {
    throw new MtaStsError('MTA_STS_POLICY', `${url} is ${response.contentType ?? 'untyped'}, not text/plain`);
  }
  const parsed = parseMtaStsPolicy(response.body);
  return { domain, id, ...parsed, fetchedAt: now, expiresAt: now + parsed.maxAge * 1000 };
}

/** Discovers and fetches the MTA-STS policy of a mail domain (RFC 8461). */
export async function getMtaStsPolicy(domain: string, options: MtaStsOptions): Promise<MtaStsResult> {
  const name = domain.toLowerCase().replace(/\.$/, '');
  const now = (options.now ?? Date.now)();
  const cached = options.cache?.get(name);
  const live = cached && cached.expiresAt > now ? cached : undefined;
  if (cached && !live) options.cache?.delete(name);
  const id = await discoverId(name, options);
  if (id === undefined || id === 'temperror') {
    // RFC 8461 3.3, 5.1: a cached, unexpired policy stays in force when the record is gone or unreadable.
    if (live) return { status: 'policy', policy: live, fromCache: true, reason: `cached policy id ${live.id}` };
    if (id === 'temperror')
      return { status: 'error', fromCache: false, reason: `DNS failure looking up _mta-sts.${name}` };
    return { status: 'none', fromCache: false, reason: `${name} publishes no MTA-STS record` };
  }
  if (live && live.id === id)
    return { status: 'policy', policy: live, fromCache: true, reason: `cached policy id ${id}` };
  try {
    const policy = await fetchPolicy(name, id, options, now);
    options.cache?.set(name, policy);
    return { status: 'policy', policy, fromCache: false, reason: `fetched policy id ${id}` };
  } catch (error) {
    if (!isMtaStsFailure(error)) throw error;
    options.logger?.warn({ check: 'mta-sts', domain: name, id, code: error.code }, error.message);
    // RFC 8461 5.1: a failed refresh keeps the cached policy.
    if (live)
      return {
        status: 'policy',
        policy: live,
        fromCache: true,
        reason: `refresh failed (${error.message}); cached policy kept`,
      };
    return { status: 'error', fromCache: false, reason: error.message };
  }
}
