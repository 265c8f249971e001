// RFC 7208 5.5: the client's "validated domain names": PTR names whose address records
// include the client address. Used by the ptr mechanism and the %{p} macro.
import { tryParseIp } from '../ip-address';
import type { SpfContext } from './context';

async function namesOf(context: SpfContext): Promise<string[]> {
  const { resolver, ip, signal } = context;
  let names: string[];
  try {
    names = (await resolver.reverse(ip.text, { signal })).records;
  } catch {
    // RFC 7208 5.5: a DNS error during the PTR lookup means the mechanism does not match.
    return [];
  }
  const validated: string[] = [];
  // RFC 7208 4.6.4: only the first 10 PTR names are followed, the rest are ignored.
  for (const name of names.slice(0, context.limits.ptrNames)) {
    const host = name.replace(/\.$/, '');
    try {
      const answer =
        ip.family === 4 ? await resolver.resolveA(host, { signal }) : await resolver.resolveAaaa(host, { signal });
      if (answer.records.some((record) => tryParseIp(record)?.text === ip.text)) validated.push(host);
    } catch {
      // RFC 7208 5.5: a DNS error on the address lookup skips that name and goes on.
    }
  }
  return validated;
}

/** The validated names of the client, looked up once per evaluation. */
export function validatedNames(context: SpfContext): Promise<string[]> {
  context.validatedNames ??= namesOf(context);
  return context.validatedNames;
}

/** True when `name` is `domain` or a subdomain of it (case-insensitive). */
export function isSameOrSubdomain(name: string, domain: string): boolean {
  const a = name.toLowerCase();
  const b = domain.toLowerCase();
  return a === b || a.endsWith(`.${b}`);
}

/** RFC 7208 7.3 %{p}: a validated name in `domain` if any, else any validated name, else "unknown". */
export async function validatedNameFor(context: SpfContext, domain: string): Promise<string> {
  const names = await validatedNames(context);
  return names.find((name) => isSameOrSubdomain(name, domain)) ?? names[0] ?? 'unknown';
}
