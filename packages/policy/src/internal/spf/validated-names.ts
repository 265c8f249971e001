// RFC 7208 5.5: the client's "validated domain names": PTR names whose address records
// include the client address. Used by the ptr mechanism and the %{p} macro.
import { tryParseIp } from '../ip-address';
import { isNoRecord } from '../resolver';
import { countVoid, type SpfContext } from './context';

/** The validated names, and the queries on the way that found no record (each a void lookup). */
interface ValidatedNames {
  names: string[];
  voids: string[];
}

async function namesOf(context: SpfContext): Promise<ValidatedNames> {
  const { resolver, ip, signal } = context;
  const voids: string[] = [];
  // RFC 7208 4.6.4: the PTR query and each address query that finds no record is a void lookup,
  // counted as it happens (pyspf does the same), so the limit stops the walk at once.
  const noRecord = (what: string): void => {
    voids.push(what);
    countVoid(context, what);
  };
  let names: string[];
  try {
    names = (await resolver.reverse(ip.text, { signal })).records;
  } catch (error) {
    if (isNoRecord(error)) noRecord(`PTR of ${ip.text}`);
    // RFC 7208 5.5: a DNS error during the PTR lookup means the mechanism does not match.
    return { names: [], voids };
  }
  const validated: string[] = [];
  // RFC 7208 4.6.4: only the first 10 PTR names are followed, the rest are ignored.
  for (const name of names.slice(0, context.limits.ptrNames)) {
    const host = name.replace(/\.$/, '');
    const type = ip.family === 4 ? 'A' : 'AAAA';
    try {
      const answer =
        ip.family === 4 ? await resolver.resolveA(host, { signal }) : await resolver.resolveAaaa(host, { signal });
      if (answer.records.some((record) => tryParseIp(record)?.text === ip.text)) validated.push(host);
    } catch (error) {
      if (isNoRecord(error)) noRecord(`${type} ${host}`);
      // RFC 7208 5.5: a DNS error on the address lookup skips that name and goes on.
    }
  }
  return { names: validated, voids };
}

/**
 * The validated names of the client for one `ptr` mechanism. The queries are made once per evaluation, but
 * their void lookups count at every use, as pyspf counts them: it asks again each time for what was empty.
 */
export async function validatedNames(context: SpfContext): Promise<string[]> {
  if (context.validatedNames === undefined) {
    context.validatedNames = namesOf(context);
    return (await context.validatedNames).names;
  }
  const { names, voids } = await context.validatedNames;
  for (const what of voids) countVoid(context, what);
  return names;
}

/** True when `name` is `domain` or a subdomain of it (case-insensitive). */
export function isSameOrSubdomain(name: string, domain: string): boolean {
  const a = name.toLowerCase();
  const b = domain.toLowerCase();
  return a === b || a.endsWith(`.${b}`);
}

/**
 * RFC 7208 7.3 %{p}: a validated name in `domain` if any, else any validated name, else "unknown".
 * Its void lookups count at the first %{p} of the evaluation only (pyspf keeps the value once computed).
 */
export async function validatedNameFor(context: SpfContext, domain: string): Promise<string> {
  let names: string[];
  if (context.pMacroCounted) names = (await (context.validatedNames as Promise<ValidatedNames>)).names;
  else {
    context.pMacroCounted = true;
    names = await validatedNames(context);
  }
  return names.find((name) => isSameOrSubdomain(name, domain)) ?? names[0] ?? 'unknown';
}
