// Doctor's authentication checks: SPF for each IP (RFC 7208, incl. the 10-lookup limit of 4.6.4),
// and TLS-RPT (RFC 8460). SPF evaluation itself is @homing/policy's checkSpf; this file only decides
// what the result means for our own domain and which record fixes it.
import { isIP } from 'node:net';
import { isDnsError, type Resolver } from '@homing/dns';
import { checkSpf, type SpfResult } from '@homing/policy';
import type { DoctorCheck } from './doctor-types';
import { zoneLine } from './zone-lines';

/** The SPF term that authorises one address. */
export function spfTerm(ip: string): string {
  return `${isIP(ip) === 4 ? 'ip4' : 'ip6'}:${ip}`;
}

/** The SPF record quickstart suggests: each sending IP by address (no DNS lookups spent), then -all. */
export function suggestedSpf(ips: string[]): string {
  return ips.length > 0 ? `v=spf1 ${ips.map(spfTerm).join(' ')} -all` : 'v=spf1 mx -all';
}

/** True when the record ends in an `all` that passes everyone (`all` or `+all`). */
function passesEveryone(record: string): boolean {
  return /(^|\s)\+?all(\s|$)/i.test(record);
}

/** `spf`: the domain's SPF passes each IP, within 10 lookups, and does not pass the whole internet. */
export async function checkSpfRecord(
  resolver: Resolver,
  domain: string,
  hostname: string,
  ips: string[],
): Promise<DoctorCheck> {
  const results = new Map<string, SpfResult>();
  for (const ip of ips) {
    results.set(ip, await checkSpf({ ip, helo: hostname, sender: `postmaster@${domain}` }, { resolver }));
  }
  const all = [...results.values()];
  const broken = all.find((result) => ['permerror', 'temperror', 'none'].includes(result.result));
  const record = all.find((result) => result.record)?.record;
  if (broken) {
    const message =
      broken.result === 'none'
        ? `${domain} publishes no SPF record`
        : `SPF of ${domain} gives ${broken.result}: ${broken.reason}`;
    // A record over the lookup limit (or broken) is replaced by one that names our IPs outright.
    if (broken.result === 'temperror') return { name: 'spf', status: 'error', message };
    return {
      name: 'spf',
      status: 'error',
      message: `${message}; publish this instead`,
      record: zoneLine(domain, 'TXT', suggestedSpf(ips)),
    };
  }
  const notPassing = ips.filter((ip) => results.get(ip)?.result !== 'pass');
  const everyone = record !== undefined && passesEveryone(record);
  if (notPassing.length === 0 && !everyone) {
    const lookups = Math.max(...all.map((result) => result.lookups), 0);
    return {
      name: 'spf',
      status: 'ok',
      message: `SPF of ${domain} passes ${ips.join(', ')} (${lookups} of 10 DNS lookups)`,
    };
  }
  let fixed = record ?? 'v=spf1 -all';
  if (notPassing.length > 0) fixed = fixed.replace(/^v=spf1/i, `v=spf1 ${notPassing.map(spfTerm).join(' ')}`);
  if (everyone) fixed = fixed.replace(/(^|\s)\+?all(?=\s|$)/i, '$1-all');
  const problems = [
    ...notPassing.map((ip) => `gives ${results.get(ip)?.result} for ${ip}`),
    ...(everyone ? ['ends in +all, which lets anyone send as you'] : []),
  ];
  return {
    name: 'spf',
    status: 'error',
    message: `SPF of ${domain} ${problems.join(' and ')}`,
    record: zoneLine(domain, 'TXT', fixed),
  };
}

/** The TLS-RPT record quickstart suggests (RFC 8460 3): where senders report TLS failures to us. */
export function suggestedTlsRpt(domain: string): string {
  return `v=TLSRPTv1; rua=mailto:tls-reports@${domain}`;
}

/** `tls-rpt`: a `_smtp._tls` TXT record with v=TLSRPTv1 and a rua= (RFC 8460 3). */
export async function checkTlsRpt(resolver: Resolver, domain: string): Promise<DoctorCheck> {
  const name = `_smtp._tls.${domain}`;
  const record = zoneLine(name, 'TXT', suggestedTlsRpt(domain));
  let found: string[] = [];
  try {
    found = (await resolver.resolveTxt(name)).records.filter((text) => /^v=TLSRPTv1\s*(;|$)/i.test(text));
  } catch (error) {
    if (!isDnsError(error) || !['NXDOMAIN', 'NODATA'].includes(error.code)) {
      return {
        name: 'tls-rpt',
        status: 'error',
        message: `DNS failure looking up ${name}: ${(error as Error).message}`,
      };
    }
  }
  if (found.length === 0) {
    return {
      name: 'tls-rpt',
      status: 'warn',
      message: `no TLS-RPT record at ${name}: senders cannot tell you when TLS to you fails`,
      record,
    };
  }
  if (found.length > 1) {
    return {
      name: 'tls-rpt',
      status: 'error',
      message: `${found.length} TLS-RPT records at ${name}; keep one`,
      record,
    };
  }
  // RFC 8460 3: rua is a comma-separated list of mailto: or https: URIs.
  const rua = /(?:^|;)\s*rua\s*=\s*([^;]+)/i.exec(found[0] as string)?.[1]?.trim();
  const uris = rua?.split(',').map((uri) => uri.trim()) ?? [];
  if (uris.length === 0 || uris.some((uri) => !/^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/i.test(uri))) {
    return { name: 'tls-rpt', status: 'error', message: `${name} needs rua=mailto:ADDRESS or rua=https://URL`, record };
  }
  return { name: 'tls-rpt', status: 'ok', message: `TLS reports go to ${uris.join(', ')}` };
}
