// RFC 7489 3.1: identifier alignment. mailauth 4.13.3 always takes its strict path and then
// falls back to relaxed matching, so adkim=s / aspf=s are not enforced there; it is done here.
import { getDomain } from 'tldts';

// RFC 7489 3.2: the organisational domain by the public suffix list (ICANN and private sections).
const pslOptions = { allowIcannDomains: true, allowPrivateDomains: true };

/** The organisational domain of `domain` (the domain itself when the list does not know it). */
export function organisationalDomain(domain: string): string {
  const name = domain.toLowerCase().replace(/\.$/, '');
  return getDomain(name, pslOptions) ?? name;
}

/** The first of `candidates` aligned with `fromDomain`, strictly (same name) or relaxed (same organisational domain). */
export function alignedDomain(fromDomain: string, candidates: string[], strict: boolean): string | undefined {
  const from = fromDomain.toLowerCase().replace(/\.$/, '');
  const fromOrg = organisationalDomain(from);
  return candidates.find((candidate) => {
    const name = candidate.toLowerCase().replace(/\.$/, '');
    return strict ? name === from : organisationalDomain(name) === fromOrg;
  });
}
