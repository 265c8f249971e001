// RFC 7208 4: check_host(). Record lookup and selection, term evaluation in order, redirect,
// and the explanation on fail (RFC 7208 6.2).
import { dnsFailureCode, isNoRecord, isTemporary } from '../resolver';
import { countLookup, countVoid, lookup, SpfAbort, type SpfContext } from './context';
import { expandDomain, macroValues } from './expand';
import { expandMacroString, type MacroToken, parseMacroString } from './macro';
import { mechanismMatches } from './mechanisms';
import { isSpfRecord, parseSpfRecord, RecordSyntaxError, type SpfRecord } from './record';

/** The outcome of check_host() for one domain. */
export interface HostResult {
  result: 'none' | 'neutral' | 'pass' | 'fail' | 'softfail' | 'temperror' | 'permerror';
  reason: string;
  domain: string;
  record?: string;
  mechanism?: string;
  /** The exp= of the record that decided (RFC 7208 6.2: not taken from included records). */
  exp?: { tokens: MacroToken[]; domain: string };
}

/** RFC 7208 4.3: a domain is checkable when it is a multi-label name with labels of 1..63 octets. */
export function isCheckableDomain(domain: string): boolean {
  const name = domain.replace(/\.$/, '');
  if (name.length === 0 || name.length > 253 || name.startsWith('[')) return false;
  const labels = name.split('.');
  return labels.length >= 2 && labels.every((label) => label.length >= 1 && label.length <= 63);
}

async function selectRecord(
  context: SpfContext,
  domain: string,
  term: string | undefined,
): Promise<string | HostResult> {
  let txts: string[];
  try {
    txts = (await context.resolver.resolveTxt(domain, { signal: context.signal })).records;
  } catch (error) {
    if (isNoRecord(error)) {
      // RFC 7208 4.6.4: an empty TXT query is a void lookup, for an include or redirect target as for the
      // checked identity itself (pyspf counts both; the result is none or permerror either way).
      countVoid(context, term === undefined ? `TXT ${domain}` : `TXT ${domain} (${term})`);
      return { result: 'none', reason: `${domain} has no TXT record`, domain };
    }
    if (isTemporary(error)) return { result: 'temperror', reason: `DNS error looking up TXT ${domain}`, domain };
    if (dnsFailureCode(error) === 'BADNAME') return { result: 'none', reason: `${domain} cannot be looked up`, domain };
    throw error;
  }
  const records = txts.filter(isSpfRecord);
  if (records.length === 0) return { result: 'none', reason: `${domain} has no SPF record`, domain };
  // RFC 7208 4.5: more than one record is a permerror.
  if (records.length > 1) return { result: 'permerror', reason: `${domain} has ${records.length} SPF records`, domain };
  return records[0]!;
}

async function evaluateRecord(context: SpfContext, domain: string, record: SpfRecord): Promise<HostResult> {
  const exp = record.exp ? { tokens: record.exp, domain } : undefined;
  for (const mechanism of record.mechanisms) {
    if (await mechanismMatches(context, mechanism, domain, checkHost)) {
      return {
        result: mechanism.qualifier,
        reason: `${domain} matched "${mechanism.text}"`,
        domain,
        record: record.text,
        mechanism: mechanism.text,
        exp,
      };
    }
  }
  if (record.redirect) {
    // RFC 7208 6.1: redirect counts as a lookup; a target without a record is a permerror.
    countLookup(context, 'redirect');
    const target = await expandDomain(context, record.redirect, domain);
    const inner = await checkHost(context, target, 'redirect');
    if (inner.result === 'none') {
      return { ...inner, result: 'permerror', reason: `redirect=${target}: ${inner.reason}`, domain: target };
    }
    return inner;
  }
  // RFC 7208 4.7: no match and no redirect is neutral.
  return { result: 'neutral', reason: `no term of ${domain}'s record matched`, domain, record: record.text, exp };
}

/** RFC 7208 4: check_host() for `domain` (`term`: the include or redirect that asks); temperror/permerror inside come back as results. */
export async function checkHost(context: SpfContext, domain: string, term?: string): Promise<HostResult> {
  if (!isCheckableDomain(domain)) return { result: 'none', reason: `"${domain}" is not a valid domain name`, domain };
  let selected: string | HostResult;
  try {
    selected = await selectRecord(context, domain, term);
  } catch (error) {
    if (error instanceof SpfAbort) return { result: error.result, reason: error.message, domain };
    throw error;
  }
  if (typeof selected !== 'string') return selected;
  let record: SpfRecord;
  try {
    record = parseSpfRecord(selected);
  } catch (error) {
    if (error instanceof RecordSyntaxError) {
      return { result: 'permerror', reason: `${domain}: ${error.message}`, domain, record: selected };
    }
    throw error;
  }
  try {
    return await evaluateRecord(context, domain, record);
  } catch (error) {
    if (error instanceof SpfAbort) return { result: error.result, reason: error.message, domain, record: selected };
    throw error;
  }
}

/**
 * RFC 7208 6.2: the explanation string. Any DNS error, zero or several TXT records, or a syntax
 * error in the string means no explanation, never a different result.
 */
export async function explain(context: SpfContext, exp: NonNullable<HostResult['exp']>): Promise<string | undefined> {
  try {
    const target = await expandDomain(context, exp.tokens, exp.domain);
    const options = { signal: context.signal };
    const records = await lookup(context, () => context.resolver.resolveTxt(target, options), `TXT ${target}`, false);
    if (records.length !== 1) return undefined;
    return await expandMacroString(parseMacroString(records[0]!, true), macroValues(context, exp.domain));
  } catch {
    return undefined;
  }
}
