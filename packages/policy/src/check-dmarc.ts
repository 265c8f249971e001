// DMARC (RFC 7489): policy discovery (the From domain, then its organisational domain) by
// mailauth; identifier alignment, np= (RFC 9091) and pct= sampling here.
import { dmarc } from 'mailauth';
import { alignedDomain, organisationalDomain } from './internal/dmarc-alignment';
import { applyPercentage, asPolicy, type DmarcPolicy, dmarcTag, isNonExistentDomain } from './internal/dmarc-policy';
import { toMailauthResolver } from './internal/mailauth-resolver';
import type { Resolver } from './internal/resolver';

/** What checkDmarc looks at. */
export interface DmarcInput {
  /** The RFC5322.From address (or just its domain). */
  from: string;
  /** The domain SPF passed for (MAIL FROM domain, or HELO for the null sender); omit when SPF did not pass. */
  spfDomain?: string;
  /** The d= domains of the DKIM signatures that passed. */
  dkimDomains: string[];
}

/** Options of checkDmarc. */
export interface DmarcOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  /** A number in [0, 1) for pct= sampling (default Math.random). */
  random?: () => number;
  signal?: AbortSignal;
}

/** The outcome of checkDmarc. */
export interface DmarcResult {
  /** RFC 7489 result: pass, fail, none (no record), temperror (DNS failure). */
  result: 'pass' | 'fail' | 'none' | 'temperror';
  /** The RFC5322.From domain. */
  domain: string;
  /** Its organisational domain (public suffix list). */
  orgDomain: string;
  /** The policy that applies (p, sp for subdomains, np for non-existent subdomains); absent without a record. */
  policy?: DmarcPolicy;
  /** What to do with the message: the policy on fail after pct= sampling, else none. */
  disposition: DmarcPolicy;
  /** The pct= of the record (default 100). */
  pct: number;
  /** The aligned SPF and DKIM domains, when aligned. */
  alignment: { spf?: string; dkim?: string };
  /** The DMARC record used. */
  record?: string;
  reason: string;
}

/** Evaluates DMARC for a message's From domain with the SPF and DKIM results. */
export async function checkDmarc(input: DmarcInput, options: DmarcOptions): Promise<DmarcResult> {
  const domain = input.from.slice(input.from.lastIndexOf('@') + 1).toLowerCase();
  const outcome = await dmarc({
    headerFrom: domain,
    spfDomains: input.spfDomain ? [input.spfDomain] : [],
    dkimDomains: input.dkimDomains.map((dkimDomain) => ({ domain: dkimDomain })),
    resolver: toMailauthResolver(options.resolver, options.signal),
  });
  if (!outcome) {
    return {
      result: 'none',
      domain,
      orgDomain: domain,
      disposition: 'none',
      pct: 100,
      alignment: {},
      reason: 'no From domain',
    };
  }
  const status = (outcome as unknown as { status: { result: string } }).status.result;
  const orgDomain = organisationalDomain(domain);
  const record = outcome.rr;
  const base = { domain, orgDomain, record, alignment: {} as DmarcResult['alignment'] };
  if (status === 'temperror' || !record) {
    const reason = status === 'temperror' ? `DNS failure looking up _dmarc.${domain}` : `no DMARC record for ${domain}`;
    return { ...base, result: status === 'temperror' ? 'temperror' : 'none', disposition: 'none', pct: 100, reason };
  }
  let policy = asPolicy(outcome.policy) ?? 'none';
  // RFC 9091 3.2: np= applies to non-existent subdomains under the organisational record.
  const np = asPolicy(dmarcTag(record, 'np'));
  if (np && domain !== orgDomain && (await isNonExistentDomain(options.resolver, domain, options.signal))) policy = np;
  const pctTag = Number(dmarcTag(record, 'pct') ?? '100');
  const pct = Number.isInteger(pctTag) && pctTag >= 0 && pctTag <= 100 ? pctTag : 100;
  const aligned = {
    spf: alignedDomain(domain, input.spfDomain ? [input.spfDomain] : [], dmarcTag(record, 'aspf') === 's'),
    dkim: alignedDomain(domain, input.dkimDomains, dmarcTag(record, 'adkim') === 's'),
  };
  const result = aligned.spf || aligned.dkim ? 'pass' : 'fail';
  const disposition = result === 'fail' ? applyPercentage(policy, pct, options.random ?? Math.random) : 'none';
  const reason =
    result === 'pass'
      ? `aligned ${aligned.dkim ? `DKIM d=${aligned.dkim}` : `SPF ${aligned.spf}`}`
      : `neither SPF nor DKIM aligned with ${domain}`;
  return { ...base, result, policy, disposition, pct, alignment: aligned, reason };
}
