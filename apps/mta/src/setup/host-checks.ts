// Doctor's host checks: the hostname's addresses, and for each IP separately its PTR, FCrDNS and
// whether the HELO name is that PTR name. Receivers check each family on its own: a missing IPv6
// PTR is among the most reported deliverability failures (Gmail's 5.7.25).
import { isIP } from 'node:net';
import { isDnsError, type Resolver } from '@homing/dns';
import { checkFcrdns, type FcrdnsResult } from '@homing/policy';
import type { DoctorCheck } from './doctor-types';
import { ptrLine, zoneLine } from './zone-lines';

const sameName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

function failureCode(error: unknown): string {
  return isDnsError(error) ? error.code : String((error as Error)?.message ?? error);
}

/** The hostname has no CNAME (RFC 2181 10.3: an MX must name a host, not an alias). */
export async function hostnameAliasProblem(resolver: Resolver, hostname: string): Promise<string | undefined> {
  try {
    const answer = await resolver.resolveCname(hostname);
    return `${hostname} is a CNAME to ${answer.records[0]}; an MX must name the host itself (RFC 2181 10.3)`;
  } catch {
    return undefined;
  }
}

/** `a`: the hostname's A/AAAA records hold every IP we send from. */
export async function checkAddresses(resolver: Resolver, hostname: string, ips: string[]): Promise<DoctorCheck> {
  const found = new Map<4 | 6, string[]>();
  for (const family of [4, 6] as const) {
    if (!ips.some((ip) => isIP(ip) === family)) continue;
    try {
      const answer = family === 4 ? await resolver.resolveA(hostname) : await resolver.resolveAaaa(hostname);
      found.set(family, answer.records);
    } catch (error) {
      if (!isDnsError(error) || !['NXDOMAIN', 'NODATA'].includes(error.code)) {
        return { name: 'a', status: 'error', message: `DNS failure looking up ${hostname}: ${failureCode(error)}` };
      }
      found.set(family, []);
    }
  }
  const missing = ips.filter((ip) => !(found.get(isIP(ip) as 4 | 6) ?? []).includes(ip));
  if (missing.length === 0) return { name: 'a', status: 'ok', message: `${hostname} is ${ips.join(', ')}` };
  const have = [...found.values()].flat();
  return {
    name: 'a',
    status: 'error',
    message: `${hostname} ${have.length > 0 ? `is ${have.join(', ')}` : 'has no address record'}, not ${missing.join(', ')}: publish the missing record`,
    record: missing.map((ip) => zoneLine(hostname, isIP(ip) === 4 ? 'A' : 'AAAA', ip)).join('\n'),
  };
}

/** The per-IP reverse DNS results that `helo` builds on. */
export interface ReverseChecks {
  checks: DoctorCheck[];
  /** The FCrDNS result of each IP whose PTR was found (the `helo` check reads them). */
  confirmed: Map<string, FcrdnsResult>;
}

/** `ptr` and `fcrdns` for one IP: a PTR exists, and one of its names resolves back to the IP. */
export async function checkReverse(resolver: Resolver, hostname: string, ip: string): Promise<ReverseChecks> {
  const fix = ptrLine(ip, hostname);
  const ask = 'ask whoever runs the address block (your hosting provider) to set it';
  const fcrdns = await checkFcrdns(ip, { resolver });
  if (fcrdns.result === 'none' || fcrdns.result === 'temperror') {
    const why = fcrdns.result === 'none' ? `${ip} has no PTR record` : fcrdns.reason;
    return {
      checks: [
        { name: 'ptr', status: 'error', ip, message: `${why}; ${ask}`, record: fix },
        { name: 'fcrdns', status: 'warn', ip, message: `not checked: ${ip} needs a PTR first (see ptr)` },
      ],
      confirmed: new Map(),
    };
  }
  const ptr: DoctorCheck = { name: 'ptr', status: 'ok', ip, message: `${ip} PTR is ${fcrdns.names.join(', ')}` };
  if (fcrdns.result === 'pass') {
    return {
      checks: [ptr, { name: 'fcrdns', status: 'ok', ip, message: fcrdns.reason }],
      confirmed: new Map([[ip, fcrdns]]),
    };
  }
  return {
    checks: [
      ptr,
      {
        name: 'fcrdns',
        status: 'error',
        ip,
        message: `${fcrdns.reason} (PTR ${fcrdns.names.join(', ')}); point the PTR at ${hostname}, which resolves to ${ip}: ${ask}`,
        record: fix,
      },
    ],
    confirmed: new Map(),
  };
}

/** `helo`: our HELO name is the confirmed PTR name of each IP (receivers compare them). */
export function checkHelo(hostname: string, ips: string[], confirmed: Map<string, FcrdnsResult>): DoctorCheck {
  const checked = ips.filter((ip) => confirmed.has(ip));
  const unchecked = ips.filter((ip) => !confirmed.has(ip));
  const note = unchecked.length > 0 ? `; ${unchecked.join(', ')} not checked (fix its ptr/fcrdns first)` : '';
  if (checked.length === 0) {
    return { name: 'helo', status: 'warn', message: `not checked: no IP has a confirmed PTR yet${note}` };
  }
  const wrong = checked.filter((ip) => !confirmed.get(ip)?.confirmed.some((name) => sameName(name, hostname)));
  if (wrong.length === 0) {
    return {
      name: 'helo',
      status: 'ok',
      message: `HELO name ${hostname} is the PTR name of ${checked.join(', ')}${note}`,
    };
  }
  const names = wrong.map((ip) => `${ip} is ${confirmed.get(ip)?.confirmed.join(', ')}`).join('; ');
  return {
    name: 'helo',
    status: 'error',
    message: `we say HELO ${hostname}, but ${names}: have the PTR changed to ${hostname}${note}`,
    record: wrong.map((ip) => ptrLine(ip, hostname)).join('\n'),
  };
}
