// RFC 7208 5: whether each mechanism matches the client.
import { inNetwork, tryParseIp } from '../ip-address';
import { countLookup, lookup, lookupAddresses, SpfAbort, type SpfContext } from './context';
import { expandDomain } from './expand';
import type { Mechanism } from './record';
import { isSameOrSubdomain, validatedNames } from './validated-names';

/** Evaluates a record of another domain (check_host), given to break the import cycle with evaluate.ts. */
export type CheckHost = (context: SpfContext, domain: string, term?: string) => Promise<{ result: string }>;

function addressMatches(context: SpfContext, records: string[], cidr4: number, cidr6: number): boolean {
  const prefix = context.ip.family === 4 ? cidr4 : cidr6;
  return records.some((record) => {
    const address = tryParseIp(record);
    return address !== undefined && inNetwork(context.ip, address, prefix);
  });
}

/** True when `mechanism` matches; throws SpfAbort for temperror/permerror. */
export async function mechanismMatches(
  context: SpfContext,
  mechanism: Mechanism,
  domain: string,
  checkHost: CheckHost,
): Promise<boolean> {
  switch (mechanism.kind) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6':
      return inNetwork(context.ip, mechanism.network, mechanism.prefixLength);
    case 'include': {
      countLookup(context, mechanism.text);
      const target = await expandDomain(context, mechanism.domain, domain);
      const inner = await checkHost(context, target, mechanism.text);
      // RFC 7208 5.2: the table of include results.
      if (inner.result === 'pass') return true;
      if (inner.result === 'temperror') throw new SpfAbort('temperror', `include:${target} gave temperror`);
      if (inner.result === 'permerror' || inner.result === 'none') {
        throw new SpfAbort('permerror', `include:${target} gave ${inner.result}`);
      }
      return false;
    }
    case 'a': {
      countLookup(context, mechanism.text);
      const target = mechanism.domain ? await expandDomain(context, mechanism.domain, domain) : domain;
      const records = await lookupAddresses(context, target, true);
      return addressMatches(context, records, mechanism.cidr4, mechanism.cidr6);
    }
    case 'mx': {
      countLookup(context, mechanism.text);
      const target = mechanism.domain ? await expandDomain(context, mechanism.domain, domain) : domain;
      const options = { signal: context.signal };
      const exchanges = await lookup(context, () => context.resolver.resolveMx(target, options), `MX ${target}`, true);
      // RFC 7208 4.6.4: more than 10 MX names to look up is a permerror.
      if (exchanges.length > context.limits.mxNames) {
        throw new SpfAbort('permerror', `MX ${target} has more than ${context.limits.mxNames} names`);
      }
      for (const { exchange } of exchanges) {
        const name = exchange.replace(/\.$/, '');
        if (name === '') continue; // RFC 7505 null MX
        // RFC 7208 4.6.4: a host without addresses is a void lookup too (pyspf counts it).
        const records = await lookupAddresses(context, name, true);
        if (addressMatches(context, records, mechanism.cidr4, mechanism.cidr6)) return true;
      }
      return false;
    }
    case 'ptr': {
      countLookup(context, mechanism.text);
      const target = mechanism.domain ? await expandDomain(context, mechanism.domain, domain) : domain;
      const names = await validatedNames(context);
      return names.some((name) => isSameOrSubdomain(name, target));
    }
    case 'exists': {
      countLookup(context, mechanism.text);
      const target = await expandDomain(context, mechanism.domain, domain);
      // RFC 7208 5.7: always an A query, whatever the client's address family.
      const options = { signal: context.signal };
      const records = await lookup(context, () => context.resolver.resolveA(target, options), `A ${target}`, true);
      return records.length > 0;
    }
  }
}
