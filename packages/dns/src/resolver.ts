import { DnsError, type DnsErrorCode } from './dns-error';
import { TtlCache } from './internal/cache';
import { interpret, type Outcome } from './internal/interpret';
import { canonicalName, checkName, reverseName } from './internal/name';
import { parseServer, type ServerAddress, systemServers } from './internal/servers';
import { type Exchange, exchangeTcp, exchangeUdp, type Response } from './internal/transport';
import { UdpPool } from './internal/udp-pool';
import { encodeQuery } from './internal/wire-name';
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
  const inFlight = new Map<string, Promise<Outcome>>();
  let asksEnded = 0;
  const logger = options.logger;
  const pool = new UdpPool();

  function remember(key: string, canonical: string, outcome: Outcome): Outcome {
    if (!caching) return outcome;
    const ttl = outcome.kind === 'answer' ? outcome.ttl : Math.min(outcome.negativeTtl, MAX_NEGATIVE_TTL);
    cache.set(key, outcome, Math.min(ttl, maxTtl));
    if (outcome.kind === 'failure' && outcome.nameError) cache.set(`* ${canonical}`, outcome, Math.min(ttl, maxTtl));
    return outcome;
  }

  /** Asks the servers in turn; caches the outcome under `key`, and ends the sharing of the query (see `lookup`). */
  async function ask(key: string, canonical: string, name: string, type: string): Promise<Outcome> {
    try {
      servers ??= systemServers().map(parseServer);
      const failures = new Map<ServerAddress, DnsError>();
      let lastTimeout: DnsError | undefined;
      let withEdns = ednsUdpSize > 0;
      for (let attempt = 0; attempt < tries; attempt++) {
        for (const server of servers) {
          if (failures.has(server)) continue;
          const exchange = buildExchange(server, name, type, withEdns);
          let response: Response;
          try {
            response = await exchangeUdp(exchange, pool);
            // RFC 7766 5 / RFC 1035 4.2.1: a truncated UDP answer is retried over TCP.
            if (response.truncated) {
              logger?.debug(
                { name, type, server: `${server.host}:${server.port}` },
                'dns answer truncated, asking over tcp',
              );
              response = await exchangeTcp({ ...exchange, query: Buffer.from(exchange.query) });
            }
          } catch (error) {
            logger?.debug(
              { name, type, server: `${server.host}:${server.port}`, error: (error as Error).message },
              'dns no usable answer from server',
            );
            if ((error as DnsError).code === 'FORMERR') failures.set(server, error as DnsError);
            else lastTimeout = error as DnsError;
            continue;
          }
          const rcode = response.rcode;
          if (rcode === 'NOERROR' || rcode === 'NXDOMAIN')
            return remember(key, canonical, interpret(response, name, type));
          if (rcode === 'FORMERR' && withEdns && !response.hasOpt) {
            // RFC 6891 7: a server that does not know EDNS answers FORMERR without OPT; ask again without it.
            withEdns = false;
            attempt--;
            break;
          }
          const code: DnsErrorCode =
            rcode === 'SERVFAIL' || rcode === 'REFUSED' || rcode === 'FORMERR' ? rcode : 'SERVFAIL';
          failures.set(
            server,
            new DnsError(code, `${server.host}:${server.port} answered ${rcode} for ${name} ${type}`, {
              hostname: name,
              type,
            }),
          );
          logger?.debug({ name, type, server: `${server.host}:${server.port}`, rcode }, 'dns server failed the query');
        }
        if (failures.size === servers.length) break;
      }
      const failure = [...failures.values()].at(-1) ?? lastTimeout;
      return {
        kind: 'failure',
        error: failure ?? new DnsError('TIMEOUT', `no answer for ${name} ${type}`, { hostname: name, type }),
        negativeTtl: 0, // RFC 2308 7: server failures are not cached here (remember() keeps no TTL of 0)
      };
    } finally {
      // Whatever happens, the next caller asks afresh: a rejected query must not stay shared forever.
      asksEnded++;
      inFlight.delete(key);
    }
  }

  function buildExchange(server: ServerAddress, name: string, type: string, withEdns: boolean): Exchange {
    const id = 0; // set by the UDP pool, which knows which ids are in use on its socket
    const query = encodeQuery(id, name, type, withEdns ? ednsUdpSize : 0);
    return { server, id, name, type, query, timeoutMs, logger };
  }

  // The cache hit and the query are two functions, so that each keeps its own optimised code: in one function,
  // a run of hits made the next run of queries slower (and the other way round).
  async function lookup<T>(rawName: string, type: string, options: LookupOptions | undefined): Promise<Answer<T>> {
    const name = checkName(rawName, type);
    const signal = options?.signal;
    signal?.throwIfAborted();
    const canonical = canonicalName(name);
    const key = `${type} ${canonical}`;
    const cached = caching ? (cache.get(key) ?? cache.get(`* ${canonical}`)) : undefined;
    if (cached) return answerOf<T>(rawName, type, withRemainingTtl(cached.value, cached.remainingMs));
    return query<T>(rawName, key, canonical, name, type, signal);
  }

  async function query<T>(
    rawName: string,
    key: string,
    canonical: string,
    name: string,
    type: string,
    signal: AbortSignal | undefined,
  ): Promise<Answer<T>> {
    const outcome = await abortable(inFlight.get(key) ?? sharedQuery(key, canonical, name, type), signal);
    return answerOf<T>(rawName, type, outcome);
  }

  /** Concurrent identical questions share one query (`lookup` finds it in `inFlight`). */
  function sharedQuery(key: string, canonical: string, name: string, type: string): Promise<Outcome> {
    const ended = asksEnded;
    const query = ask(key, canonical, name, type);
    // An ask that ended before its first await (a throw) has already left inFlight: it must not be shared.
    if (asksEnded === ended) inFlight.set(key, query);
    return query;
  }

  return {
    resolveA: (name, options) => lookup<string>(name, 'A', options),
    resolveAaaa: (name, options) => lookup<string>(name, 'AAAA', options),
    resolveMx: (name, options) => lookup<MxRecord>(name, 'MX', options),
    resolveTxt: (name, options) => lookup<string>(name, 'TXT', options),
    resolvePtr: (name, options) => lookup<string>(name, 'PTR', options),
    resolveCname: (name, options) => lookup<string>(name, 'CNAME', options),
    resolveTlsa: (name, options) => lookup<TlsaRecord>(name, 'TLSA', options),
    reverse: async (ip, options) => lookup<string>(reverseName(ip), 'PTR', options),
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

/** What a lookup gives its caller: a copy of the records (the outcome may be cached or shared), or the error. */
function answerOf<T>(name: string, type: string, outcome: Outcome): Answer<T> {
  if (outcome.kind === 'failure') throw copyError(outcome.error, type);
  return { name, records: [...outcome.records] as T[], ttl: outcome.ttl, authenticated: outcome.authenticated };
}

/**
 * Each caller gets its own error object (for the type it asked), so one caller changing it cannot affect another.
 * The copy has no stack frames: they would show only this function and the resolver's own (the failure was
 * found, and maybe cached, earlier), and capturing them cost more than the rest of a cached NXDOMAIN lookup,
 * which every message's DMARC check makes (`_dmarc.` of most sender domains does not exist).
 */
function copyError(error: DnsError, type: string): DnsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DnsError(error.code, error.message, { hostname: error.hostname, type, cause: error.cause });
  } finally {
    Error.stackTraceLimit = limit;
  }
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
