// Doctor's `dnsbl` check for one IP: @homing/policy's checkDnsbl (RFC 5782) against each zone.
import type { Resolver } from '@homing/dns';
import { checkDnsbl } from '@homing/policy';
import type { DoctorCheck } from './doctor-types';

/** The zones checked when neither --dnsbl nor the config's filters.dnsbl.zones names any. */
export const defaultDnsblZones = ['zen.spamhaus.org', 'bl.spamcop.net'];

/** `dnsbl`: no zone lists the IP. */
export async function checkDnsblListing(resolver: Resolver, ip: string, zones: string[]): Promise<DoctorCheck> {
  if (zones.length === 0) return { name: 'dnsbl', status: 'warn', ip, message: 'not checked: no DNSBL zone given' };
  const result = await checkDnsbl(ip, zones, { resolver });
  const listed = result.zones.filter((zone) => zone.status === 'listed');
  if (listed.length > 0) {
    const detail = listed
      .map(
        (zone) =>
          `${zone.zone} (${zone.codes.map((code) => code.meaning || code.code).join(', ')}${zone.reason ? `: ${zone.reason}` : ''})`,
      )
      .join('; ');
    return {
      name: 'dnsbl',
      status: 'error',
      ip,
      message: `${ip} is listed by ${detail}: ask each list to delist it (their site says how), and find out why`,
    };
  }
  const unanswered = result.zones.filter((zone) => zone.status === 'no-answer');
  if (unanswered.length > 0) {
    return {
      name: 'dnsbl',
      status: 'warn',
      ip,
      message: `${ip} is not listed by ${zones.length - unanswered.length} of ${zones.length} zones; no answer from ${unanswered.map((zone) => `${zone.zone} (${zone.error})`).join(', ')}`,
    };
  }
  return { name: 'dnsbl', status: 'ok', ip, message: `${ip} is not listed by ${zones.join(', ')}` };
}
