// The public SPF check (RFC 7208): identities from the SMTP session, then check_host().
import { PolicyError } from './errors';
import { parseIp } from './internal/ip-address';
import type { Resolver } from './internal/resolver';
import { defaultSpfLimits, type SpfContext, type SpfLimits } from './internal/spf/context';
import { checkHost, explain, type HostResult } from './internal/spf/evaluate';
import type { Logger } from './logger';

/** The result words of RFC 7208 2.6, lower case. */
export type SpfResultWord = 'none' | 'neutral' | 'pass' | 'fail' | 'softfail' | 'temperror' | 'permerror';

/** What checkSpf looks at: the client address, the HELO/EHLO name, and the MAIL FROM address. */
export interface SpfInput {
  /** The client's IP address (IPv4, IPv6, or IPv4-mapped IPv6). */
  ip: string;
  /** The HELO/EHLO name; the identity checked when `sender` is empty (RFC 7208 2.3). */
  helo: string;
  /** The MAIL FROM address without angle brackets; empty or null for the null reverse-path. */
  sender?: string | null;
}

/** Options of checkSpf. */
export interface SpfOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  /** Our host name, the %{r} macro of explanations (default "unknown"). */
  hostname?: string;
  /** @deprecated The old name of `hostname`, read when `hostname` is not given. */
  receiver?: string;
  /** Milliseconds since the epoch, for %{t} (default Date.now). */
  now?: () => number;
  /** RFC 7208 4.6.4 limits (defaults 10 lookups, 2 void lookups, 10 MX names, 10 PTR names). */
  limits?: Partial<SpfLimits>;
  /** Time limit of the whole evaluation in ms; past it the result is temperror (RFC 7208 4.6.4; default 20000). */
  timeoutMs?: number;
  /** Structured logger (pino-compatible): one debug line per evaluation. */
  logger?: Logger;
  /** Explanation given on fail when the record has no usable exp= (default: none). */
  defaultExplanation?: string;
  signal?: AbortSignal;
}

/** The outcome of checkSpf, with the reason. */
export interface SpfResult {
  /** The RFC 7208 result word. */
  result: SpfResultWord;
  /** Which identity was checked: MAIL FROM, or HELO when MAIL FROM was empty. */
  identity: 'mailfrom' | 'helo';
  /** The identity as checked (postmaster@ added where RFC 7208 4.3 says). */
  sender: string;
  /** The domain whose policy gave the result (the redirect target when one was followed). */
  domain: string;
  /** The client address, normalised. */
  ip: string;
  /** The term that matched, e.g. "-all" or "include:_spf.example.com". */
  mechanism?: string;
  /** The SPF record holding that term. */
  record?: string;
  /** The expanded exp= explanation (only on fail, and only when the record gave one). */
  explanation?: string;
  /** A sentence saying why. */
  reason: string;
  /** DNS-querying terms evaluated, and void lookups met (RFC 7208 4.6.4). */
  lookups: number;
  voidLookups: number;
}

function identityOf(input: SpfInput): { identity: 'mailfrom' | 'helo'; sender: string; local: string; domain: string } {
  const helo = input.helo.trim();
  const from = (input.sender ?? '').trim();
  if (from === '') return { identity: 'helo', sender: `postmaster@${helo}`, local: 'postmaster', domain: helo };
  const at = from.lastIndexOf('@');
  // RFC 7208 4.3: an address without a local-part gets "postmaster".
  const local = at <= 0 ? 'postmaster' : from.slice(0, at);
  const domain = at < 0 ? from : from.slice(at + 1);
  return { identity: 'mailfrom', sender: `${local}@${domain}`, local, domain };
}

/** Evaluates the SPF policy of the sender (or HELO) domain for the client address (RFC 7208). */
export async function checkSpf(input: SpfInput, options: SpfOptions): Promise<SpfResult> {
  if (typeof input.helo !== 'string') throw new PolicyError('BAD_INPUT', 'helo must be a string (the HELO/EHLO name)');
  const ip = parseIp(input.ip);
  const { identity, sender, local, domain } = identityOf(input);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const context: SpfContext = {
    resolver: options.resolver,
    ip,
    sender,
    localPart: local,
    senderDomain: domain,
    helo: input.helo.trim(),
    receiver: options.hostname ?? options.receiver ?? 'unknown',
    now: options.now ?? Date.now,
    limits: { ...defaultSpfLimits, ...options.limits },
    signal: options.signal ? AbortSignal.any([options.signal, deadline]) : deadline,
    lookups: 0,
    voidLookups: 0,
  };
  let host: HostResult;
  try {
    host = await checkHost(context, domain.replace(/\.$/, ''));
  } catch (error) {
    // RFC 7208 4.6.4: an evaluation past the time limit is a temperror.
    if (!deadline.aborted || options.signal?.aborted) throw error;
    host = { result: 'temperror', reason: `the evaluation took longer than ${timeoutMs} ms`, domain };
  }
  const explanation =
    host.result !== 'fail'
      ? undefined
      : ((host.exp ? await explain(context, host.exp) : undefined) ?? options.defaultExplanation);
  options.logger?.debug(
    { check: 'spf', ip: ip.text, sender, result: host.result, domain: host.domain, mechanism: host.mechanism },
    host.reason,
  );
  return {
    result: host.result,
    identity,
    sender,
    domain: host.domain,
    ip: ip.text,
    mechanism: host.mechanism,
    record: host.record,
    explanation,
    reason: host.reason,
    lookups: context.lookups,
    voidLookups: context.voidLookups,
  };
}
