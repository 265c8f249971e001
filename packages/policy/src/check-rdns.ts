// Reverse DNS (PTR) and forward-confirmed reverse DNS (FCrDNS, RFC 8601 2.7.3 "iprev").
import { type IpAddress, parseIp, tryParseIp } from './internal/ip-address';
import { dnsFailureCode, isNoRecord, type Resolver } from './internal/resolver';

/** Options of checkRdns and checkFcrdns. */
export interface RdnsOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  /** PTR names followed by checkFcrdns; the rest are ignored (default 10). */
  maxNames?: number;
  signal?: AbortSignal;
}

/** The outcome of checkRdns: `pass` (PTR names found), `none` (no PTR record), `temperror` (DNS failure). */
export interface RdnsResult {
  result: 'pass' | 'none' | 'temperror';
  ip: string;
  /** The PTR names, without trailing dots. */
  names: string[];
  reason: string;
}

/**
 * The outcome of checkFcrdns: `pass` when a PTR name resolves back to the address, `fail` when
 * none does, `none` without PTR records, `temperror` when a DNS failure kept the answer unknown.
 */
export interface FcrdnsResult {
  result: 'pass' | 'fail' | 'none' | 'temperror';
  ip: string;
  /** The PTR names (all of them, even those past maxNames). */
  names: string[];
  /** The names whose A/AAAA records include the address. */
  confirmed: string[];
  reason: string;
}

async function ptrNames(
  ip: IpAddress,
  options: RdnsOptions,
): Promise<{ names: string[] } | { result: 'none' | 'temperror'; reason: string }> {
  try {
    const answer = await options.resolver.reverse(ip.text, { signal: options.signal });
    return { names: answer.records.map((name) => name.replace(/\.$/, '')) };
  } catch (error) {
    if (isNoRecord(error)) return { result: 'none', reason: `${ip.text} has no PTR record` };
    const code = dnsFailureCode(error);
    if (code) return { result: 'temperror', reason: `PTR lookup for ${ip.text} failed: ${code}` };
    throw error;
  }
}

/** Looks up the PTR names of an IPv4 or IPv6 address. */
export async function checkRdns(ip: string, options: RdnsOptions): Promise<RdnsResult> {
  const address = parseIp(ip);
  const found = await ptrNames(address, options);
  if (!('names' in found)) return { result: found.result, ip: address.text, names: [], reason: found.reason };
  return {
    result: 'pass',
    ip: address.text,
    names: found.names,
    reason: `${address.text} is ${found.names.join(', ')}`,
  };
}

/** Checks that a PTR name of the address resolves back to it (forward-confirmed reverse DNS). */
export async function checkFcrdns(ip: string, options: RdnsOptions): Promise<FcrdnsResult> {
  const address = parseIp(ip);
  const found = await ptrNames(address, options);
  if (!('names' in found)) {
    return { result: found.result, ip: address.text, names: [], confirmed: [], reason: found.reason };
  }
  const confirmed: string[] = [];
  let failures = 0;
  // A limit on names followed: a hostile PTR set must not turn one check into hundreds of lookups.
  for (const name of found.names.slice(0, options.maxNames ?? 10)) {
    try {
      const lookupOptions = { signal: options.signal };
      const answer =
        address.family === 4
          ? await options.resolver.resolveA(name, lookupOptions)
          : await options.resolver.resolveAaaa(name, lookupOptions);
      if (answer.records.some((record) => tryParseIp(record)?.text === address.text)) confirmed.push(name);
    } catch (error) {
      if (!dnsFailureCode(error)) throw error;
      if (!isNoRecord(error)) failures += 1;
    }
  }
  const base = { ip: address.text, names: found.names, confirmed };
  if (confirmed.length > 0)
    return { ...base, result: 'pass', reason: `${confirmed[0]} resolves back to ${address.text}` };
  if (failures > 0)
    return { ...base, result: 'temperror', reason: `forward lookups failed for ${failures} PTR name(s)` };
  return { ...base, result: 'fail', reason: `no PTR name of ${address.text} resolves back to it` };
}
