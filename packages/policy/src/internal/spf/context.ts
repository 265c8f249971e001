// The state one SPF evaluation carries through its recursion: the identities, the counters the
// RFC 7208 4.6.4 limits are checked against, and the DNS wrapper that applies them.
import type { IpAddress } from '../ip-address';
import { type Answer, dnsFailureCode, isNoRecord, isTemporary, type Resolver } from '../resolver';

/** The limits of RFC 7208 4.6.4, as options. */
export interface SpfLimits {
  /** Mechanisms and modifiers that query DNS (include, a, mx, ptr, exists, redirect). RFC default 10. */
  lookups: number;
  /** Lookups that return no record (NXDOMAIN or an empty answer). RFC default 2. */
  voidLookups: number;
  /** Address lookups one mx mechanism may cause (MX names followed). RFC default 10. */
  mxNames: number;
  /** PTR names one ptr mechanism or %{p} macro follows (the rest are ignored). RFC default 10. */
  ptrNames: number;
}

/** The defaults of RFC 7208 4.6.4. */
export const defaultSpfLimits: SpfLimits = { lookups: 10, voidLookups: 2, mxNames: 10, ptrNames: 10 };

/** Ends the evaluation with temperror or permerror (RFC 7208 2.6.6, 2.6.7). */
export class SpfAbort extends Error {
  constructor(
    readonly result: 'temperror' | 'permerror',
    message: string,
  ) {
    super(message);
  }
}

/** Everything one evaluation needs. */
export interface SpfContext {
  resolver: Resolver;
  ip: IpAddress;
  sender: string;
  localPart: string;
  senderDomain: string;
  helo: string;
  receiver: string;
  now: () => number;
  limits: SpfLimits;
  signal?: AbortSignal;
  lookups: number;
  voidLookups: number;
  /** The client's validated names and the void lookups finding them took (looked up once per evaluation). */
  validatedNames?: Promise<{ names: string[]; voids: string[] }>;
  /** True once %{p} has been expanded: pyspf computes it once per evaluation, so its voids count once. */
  pMacroCounted?: boolean;
}

/** Counts one DNS-querying term against the limit (RFC 7208 4.6.4). */
export function countLookup(context: SpfContext, term: string): void {
  context.lookups += 1;
  if (context.lookups > context.limits.lookups) {
    throw new SpfAbort('permerror', `more than ${context.limits.lookups} DNS-querying terms (at "${term}")`);
  }
}

/**
 * Counts one query that found no record (RFC 7208 4.6.4 "void lookup"); past the limit, permerror.
 * Like pyspf, every such query counts, whichever term made it: the address lookups of mx hosts and
 * of PTR names, and the PTR query of ptr and %{p}, as well as those of a, exists, mx, include and redirect.
 */
export function countVoid(context: SpfContext, what: string): void {
  context.voidLookups += 1;
  if (context.voidLookups > context.limits.voidLookups) {
    throw new SpfAbort('permerror', `more than ${context.limits.voidLookups} void lookups (at ${what})`);
  }
}

/**
 * Runs one lookup. No record is an empty list (and, when `countsAsVoid`, one void lookup);
 * a temporary failure aborts with temperror (RFC 7208 2.6.6). A name the resolver will not send
 * (BADNAME) matches nothing.
 */
export async function lookup<T>(
  context: SpfContext,
  query: () => Promise<Answer<T>>,
  what: string,
  countsAsVoid: boolean,
): Promise<T[]> {
  try {
    return (await query()).records;
  } catch (error) {
    if (isNoRecord(error)) {
      if (countsAsVoid) countVoid(context, what);
      return [];
    }
    if (isTemporary(error)) throw new SpfAbort('temperror', `DNS ${dnsFailureCode(error)} for ${what}`);
    if (dnsFailureCode(error) === 'BADNAME') return [];
    throw error;
  }
}

/** The address records of `name` in the family of the client address. */
export function lookupAddresses(context: SpfContext, name: string, countsAsVoid: boolean): Promise<string[]> {
  const options = { signal: context.signal };
  return context.ip.family === 4
    ? lookup(context, () => context.resolver.resolveA(name, options), `A ${name}`, countsAsVoid)
    : lookup(context, () => context.resolver.resolveAaaa(name, options), `AAAA ${name}`, countsAsVoid);
}
