// DMARC policy choices mailauth leaves to us: np= (RFC 9091) and pct= sampling (RFC 7489 6.6.4).
import { isNoRecord, type Resolver } from './resolver';

/** The policy a DMARC record asks for. */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** Reads one tag of a DMARC record (RFC 7489 6.4: tag=value pairs separated by ";"). */
export function dmarcTag(record: string | undefined, tag: string): string | undefined {
  if (!record) return undefined;
  for (const part of record.split(';')) {
    const [name, ...value] = part.split('=');
    if (name?.trim().toLowerCase() === tag) return value.join('=').trim();
  }
  return undefined;
}

/** A policy word, or undefined when the value is not one. */
export function asPolicy(value: string | undefined): DmarcPolicy | undefined {
  const word = value?.toLowerCase();
  return word === 'none' || word === 'quarantine' || word === 'reject' ? word : undefined;
}

/** RFC 9091 2.1: a domain is non-existent when A, AAAA and MX all answer NXDOMAIN. */
export async function isNonExistentDomain(resolver: Resolver, domain: string, signal?: AbortSignal): Promise<boolean> {
  const options = { signal };
  const lookups = [
    () => resolver.resolveA(domain, options),
    () => resolver.resolveAaaa(domain, options),
    () => resolver.resolveMx(domain, options),
  ];
  for (const lookup of lookups) {
    try {
      await lookup();
      return false;
    } catch (error) {
      if (!isNoRecord(error) || (error as { code?: string }).code !== 'NXDOMAIN') return false;
    }
  }
  return true;
}

/** RFC 7489 6.6.4: a message not selected by pct gets the next policy down. */
export function applyPercentage(policy: DmarcPolicy, pct: number, random: () => number): DmarcPolicy {
  if (pct >= 100 || random() * 100 < pct) return policy;
  return policy === 'reject' ? 'quarantine' : 'none';
}
