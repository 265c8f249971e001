// auditDomain's host checks: MX points at our host, our host's address records, and the
// reverse DNS of the sending address (RFC 8601 "iprev", as receivers check it).
import { checkFcrdns } from '../check-rdns';
import type { AuditFinding } from './audit-types';
import { type IpAddress, reversedLabels } from './ip-address';
import { dnsFailureCode, type Resolver } from './resolver';

const sameName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

/** MX of the domain lists our host name. */
export async function auditMx(resolver: Resolver, domain: string, hostname: string): Promise<AuditFinding> {
  const publish = [{ name: domain, type: 'MX' as const, value: `10 ${hostname}.` }];
  try {
    const records = (await resolver.resolveMx(domain)).records;
    if (records.some((record) => sameName(record.exchange, hostname))) {
      return { check: 'mx', status: 'ok', message: `${domain} MX includes ${hostname}` };
    }
    const listed = records.map((record) => `${record.priority} ${record.exchange}`).join(', ');
    return { check: 'mx', status: 'error', message: `${domain} MX is ${listed}, not ${hostname}`, publish };
  } catch (error) {
    return {
      check: 'mx',
      status: 'error',
      message: `${domain} has no MX record (${dnsFailureCode(error) ?? error})`,
      publish,
    };
  }
}

/** Our host name resolves to the sending address. */
export async function auditAddress(resolver: Resolver, hostname: string, ip: IpAddress): Promise<AuditFinding> {
  const type = ip.family === 4 ? ('A' as const) : ('AAAA' as const);
  const publish = [{ name: hostname, type, value: ip.text }];
  try {
    const answer = ip.family === 4 ? await resolver.resolveA(hostname) : await resolver.resolveAaaa(hostname);
    if (answer.records.includes(ip.text))
      return { check: 'address', status: 'ok', message: `${hostname} ${type} is ${ip.text}` };
    return {
      check: 'address',
      status: 'error',
      message: `${hostname} ${type} is ${answer.records.join(', ')}, not ${ip.text}`,
      publish,
    };
  } catch (error) {
    return {
      check: 'address',
      status: 'error',
      message: `${hostname} has no ${type} record (${dnsFailureCode(error) ?? error})`,
      publish,
    };
  }
}

/** The sending address has a PTR naming our host, and it resolves back (FCrDNS). */
export async function auditReverse(resolver: Resolver, hostname: string, ip: IpAddress): Promise<AuditFinding[]> {
  const ptrName = `${reversedLabels(ip).join('.')}.${ip.family === 4 ? 'in-addr' : 'ip6'}.arpa`;
  const publish = [{ name: ptrName, type: 'PTR' as const, value: `${hostname}.` }];
  const fcrdns = await checkFcrdns(ip.text, { resolver });
  const namesUs = fcrdns.names.some((name) => sameName(name, hostname));
  const rdns: AuditFinding = namesUs
    ? { check: 'rdns', status: 'ok', message: `${ip.text} PTR is ${hostname}` }
    : {
        check: 'rdns',
        status: 'error',
        message: `${ip.text} PTR is ${fcrdns.names.join(', ') || 'missing'}, not ${hostname} (ask whoever runs the address block to set it)`,
        publish,
      };
  const confirmed = fcrdns.confirmed.some((name) => sameName(name, hostname));
  const forward: AuditFinding = confirmed
    ? { check: 'fcrdns', status: 'ok', message: `${hostname} resolves back to ${ip.text}` }
    : { check: 'fcrdns', status: 'error', message: `forward-confirmed reverse DNS fails: ${fcrdns.reason}` };
  return [rdns, forward];
}
