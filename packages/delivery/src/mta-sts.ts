import { toALabelDomain } from './mx-routing';

/** An MTA-STS policy (RFC 8461 3.2), as `@homing/policy`'s `getMtaStsPolicy` returns it. */
export interface MtaStsPolicy {
  /** `enforce`: deliver only over authenticated TLS to a listed MX; `testing`: report only; `none`: no policy. */
  mode: 'enforce' | 'testing' | 'none';
  /** MX host patterns, e.g. `mx1.example.com` or `*.example.net` (RFC 8461 4.1). */
  mx: string[];
  /** Seconds the policy may be cached (RFC 8461 3.2 `max_age`). */
  maxAge: number;
}

/**
 * Where delivery gets a domain's MTA-STS policy: resolves to the policy, or null when the domain
 * publishes none. The app wires `@homing/policy`'s `getMtaStsPolicy` in; a rejection is treated
 * as "no usable policy" unless a cached enforce policy applies (that caching is the source's job).
 */
export type MtaStsPolicySource = (domain: string, options?: { signal?: AbortSignal }) => Promise<MtaStsPolicy | null>;

function normalise(name: string): string | undefined {
  try {
    return toALabelDomain(name);
  } catch {
    return undefined;
  }
}

/**
 * Whether an MX host name matches one `mx` pattern of a policy (RFC 8461 4.1): an exact match,
 * or `*.` standing for exactly one leftmost label. Case-insensitive; IDNs compared as A-labels.
 */
export function matchesMxPattern(host: string, pattern: string): boolean {
  const name = normalise(host);
  if (name === undefined) return false;
  const wildcard = pattern.trim().startsWith('*.');
  const base = normalise(wildcard ? pattern.trim().slice(2) : pattern);
  if (base === undefined) return false;
  if (!wildcard) return name === base;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === base;
}

/** Whether an MTA-STS policy allows delivery to the MX `host` (RFC 8461 4.1); true for mode `none`. */
export function mtaStsAllowsMx(policy: MtaStsPolicy, host: string): boolean {
  if (policy.mode === 'none') return true;
  return policy.mx.some((pattern) => matchesMxPattern(host, pattern));
}
