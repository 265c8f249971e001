import { DnsError } from './dns-error';
import { answerOf } from './internal/answer';
import { TtlCache } from './internal/cache';
import type { Outcome } from './internal/interpret';
import { canonicalName, checkName, reverseName } from './internal/name';
import { type Asker, InFlight, Question } from './internal/question';
import { parseServer, type ServerAddress, systemServers } from './internal/servers';
import { UdpPool } from './internal/udp-pool';
import type { Logger } from './logger';

/** A successful lookup: the records (never empty), their smallest TTL left, and the response's AD bit. */
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

/** A TLSA record (RFC 6698 2.1). */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Uint8Array;
}

/** Per-lookup options. */
export interface LookupOptions {
  signal?: AbortSignal;
}

export type { Logger };

/** @deprecated Use `Logger` (the same shape in every @homing package); the resolver logs at `debug`. */
export type DnsLogger = Logger;

/** Options of `createResolver`. */
export interface ResolverOptions {
  /** `host:port` strings (`[::1]:53` for IPv6), tried in order; default: the nameservers of /etc/resolv.conf. */
  servers?: string[];
  /** Milliseconds to wait per try; default 2000. */
  timeoutMs?: number;
  /** Tries per server before TIMEOUT; default 2. */
  tries?: number;
  /**
   * `false` turns caching off; default `{ maxEntries: 10000, maxTtl: 86400 }`; `maxTtl` (seconds) caps how long an
   * answer is kept (negative answers at most 3 hours, RFC 2308 5); `now` returns milliseconds since the epoch (for tests).
   */
  cache?: false | { maxEntries?: number; maxTtl?: number; now?: () => number };
  /** EDNS0 UDP payload size to advertise (RFC 6891); default 1232, 0 sends no OPT record. */
  ednsUdpSize?: number;
  /** Optional pino-compatible logger: `debug` for ignored answers, truncation, and each server that failed. */
  logger?: Logger;
}

/** Looks names up; every method resolves to an `Answer` or rejects with a `DnsError`. */
export interface Resolver {
  resolveA(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveAaaa(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveMx(name: string, options?: LookupOptions): Promise<Answer<MxRecord>>;
  resolveTxt(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolvePtr(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveCname(name: string, options?: LookupOptions): Promise<Answer<string>>;
  resolveTlsa(name: string, options?: LookupOptions): Promise<Answer<TlsaRecord>>;
  /** The PTR names of an IPv4 or IPv6 address. */
  reverse(ip: string, options?: LookupOptions): Promise<Answer<string>>;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_TRIES = 2;
const DEFAULT_MAX_ENTRIES = 10_000;
// A day, as Unbound's cache-max-ttl: a zone cannot pin a record in memory for years with a huge TTL.
const DEFAULT_MAX_TTL = 86_400;
// RFC 2308 5: "values of one to three hours have been found to work well" for negative caching.
const MAX_NEGATIVE_TTL = 10_800;
// DNS flag day 2020: 1232 octets avoids IP fragmentation on nearly every path.
const DEFAULT_EDNS_UDP_SIZE = 1232;

/** Creates a resolver that asks `servers` (default: the system's) and caches by TTL. */
export function createResolver(options: ResolverOptions = {}): Resolver {
  const configured = options.servers?.map(parseServer);
  if (configured !== undefined && configured.length === 0) {
    throw new DnsError('BADCONFIG', 'the servers list is empty; give at least one host:port');
  }
  let servers: ServerAddress[] | undefined = configured;
  const timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
  const tries = positive(options.tries, DEFAULT_TRIES, 'tries');
  const ednsUdpSize = options.ednsUdpSize ?? DEFAULT_EDNS_UDP_SIZE;
  if (!Number.isInteger(ednsUdpSize) || ednsUdpSize < 0 || ednsUdpSize > 65_535) {
    throw new DnsError('BADCONFIG', `ednsUdpSize must be 0 (no EDNS0) or 512 to 65535, not ${ednsUdpSize}`);
  }
  const cacheOptions = options.cache === false ? { maxEntries: 0 } : (options.cache ?? {});
  const maxTtl = cacheOptions.maxTtl ?? DEFAULT_MAX_TTL;
  const cache = new TtlCache<Outcome>(cacheOptions.maxEntries ?? DEFAULT_MAX_ENTRIES, cacheOptions.now ?? Date.now);
  const caching = (cacheOptions.maxEntries ?? DEFAULT_MAX_ENTRIES) > 0;
  const logger = options.logger;
  const pool = new UdpPool();

  const asker: Asker = {
    pool,
    timeoutMs,
    tries,
    ednsUdpSize,
    logger,
    caching,
    inFlight: new InFlight(),
    servers: () => {
      servers ??= systemServers().map(parseServer);
      return servers;
    },
    remember(type: string, canonical: string, outcome: Outcome): void {
      if (!caching) return;
      const key = `${type} ${canonical}`;
      const ttl = outcome.kind === 'answer' ? outcome.ttl : Math.min(outcome.negativeTtl, MAX_NEGATIVE_TTL);
      cache.set(key, outcome, Math.min(ttl, maxTtl));
      if (outcome.kind === 'failure' && outcome.nameError) cache.set(`* ${canonical}`, outcome, Math.min(ttl, maxTtl));
    },
  };

  // Not async: an async function returning the query's Promise would add a Promise and two turns of the
  // microtask queue per lookup; errors thrown here are returned as a rejected Promise all the same.
  function lookup<T>(rawName: string, type: string, options: LookupOptions | undefined): Promise<Answer<T>> {
    let name: string;
    try {
      name = checkName(rawName, type);
      options?.signal?.throwIfAborted();
    } catch (error) {
      return Promise.reject(error);
    }
    const canonical = canonicalName(name);
    const cached = caching ? (cache.get(`${type} ${canonical}`) ?? cache.get(`* ${canonical}`)) : undefined;
    if (cached) return fromCache<T>(rawName, type, cached.value, cached.remainingMs);
    return query<T>(rawName, canonical, name, type, options?.signal);
  }

  // The cache hit and the query are two functions, so that each keeps its own optimised code: in one function,
  // a run of hits made the next run of queries slower (and the other way round).
  async function fromCache<T>(
    rawName: string,
    type: string,
    outcome: Outcome,
    remainingMs: number,
  ): Promise<Answer<T>> {
    return answerOf<T>(rawName, type, withRemainingTtl(outcome, remainingMs));
  }

  /** Concurrent identical questions share one query (found in `inFlight` until it ends). */
  function query<T>(
    rawName: string,
    canonical: string,
    name: string,
    type: string,
    signal: AbortSignal | undefined,
  ): Promise<Answer<T>> {
    let question = asker.inFlight.get(type, canonical);
    let answer: Promise<Answer<unknown>>;
    if (question === undefined) {
      question = new Question(asker, canonical, name, type);
      asker.inFlight.set(type, canonical, question);
      answer = question.wait(rawName);
      question.start();
    } else answer = question.wait(rawName);
    return (signal === undefined ? answer : abortable(answer, signal)) as Promise<Answer<T>>;
  }

  return {
    resolveA: (name, options) => lookup<string>(name, 'A', options),
    resolveAaaa: (name, options) => lookup<string>(name, 'AAAA', options),
    resolveMx: (name, options) => lookup<MxRecord>(name, 'MX', options),
    resolveTxt: (name, options) => lookup<string>(name, 'TXT', options),
    resolvePtr: (name, options) => lookup<string>(name, 'PTR', options),
    resolveCname: (name, options) => lookup<string>(name, 'CNAME', options),
    resolveTlsa: (name, options) => lookup<TlsaRecord>(name, 'TLSA', options),
    reverse: (ip, options) => {
      let name: string;
      try {
        name = reverseName(ip);
      } catch (error) {
        return Promise.reject(error);
      }
      return lookup<string>(name, 'PTR', options);
    },
  };
}

function withRemainingTtl(outcome: Outcome, remainingMs: number): Outcome {
  if (outcome.kind !== 'answer') return outcome;
  // Built as interpret() builds an answer, property for property: one object shape for cached and fresh
  // answers keeps the code that reads them monomorphic (one resolver's cached lookups share it with another's).
  return {
    kind: 'answer',
    records: outcome.records,
    ttl: Math.ceil(remainingMs / 1000),
    authenticated: outcome.authenticated,
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new DnsError('BADCONFIG', `${what} must be a positive number, not ${value}`);
  }
  return value;
}
