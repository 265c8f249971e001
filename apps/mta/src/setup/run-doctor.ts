// `homing doctor`: every check of our domain in one report. Each check lives in its own module and
// gives DoctorCheck values; this file gathers what they need (hostname, IPs, our key, listeners).
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { describeKey } from '@homing/dkim';
import { isDnsError, type Resolver } from '@homing/dns';
import type { Config, ListenAddress } from '../config/config-types';
import { checkSpfRecord, checkTlsRpt } from './auth-checks';
import { dkimKeyPath } from './dkim-key-path';
import { checkDnsblListing, defaultDnsblZones } from './dnsbl-check';
import type { DoctorCheck, DoctorReport } from './doctor-types';
import { auditChecks, type DomainAuditInput } from './domain-audit';
import { checkAddresses, checkHelo, checkReverse } from './host-checks';
import { gradeProviders } from './provider-grades';
import { checkListeners, checkTlsa } from './tls-checks';
import type { ListenerTarget } from './tls-probe';

/** What doctor is asked to check. */
export interface DoctorInput {
  domain: string;
  resolver: Resolver;
  /** The server's config (gives hostname, our DKIM key, the listeners and the certificate file). */
  config?: Config;
  /** The hostname when there is no config (default: the domain's first MX). */
  hostname?: string;
  /** Our sending IPs (default: the hostname's A and AAAA records). */
  ips?: string[];
  selector: string;
  /** DNSBL zones (default: the config's filters.dnsbl.zones, else `defaultDnsblZones`). */
  dnsblZones?: string[];
  /** Extra CA certificates (PEM) to trust, for test set-ups. */
  ca?: string[];
  /** Port of the MTA-STS policy host (default 443), for test set-ups. */
  mtaStsPort?: number;
}

/** Why doctor cannot start (no hostname, no IPs): said to the user as is. */
export class DoctorInputError extends Error {}

async function hostnameOf(input: DoctorInput): Promise<string> {
  if (input.config) return input.config.hostname;
  if (input.hostname) return input.hostname.toLowerCase().replace(/\.$/, '');
  try {
    const mx = (await input.resolver.resolveMx(input.domain)).records.sort((a, b) => a.priority - b.priority);
    if (mx[0]) return mx[0].exchange.toLowerCase().replace(/\.$/, '');
  } catch {}
  throw new DoctorInputError(`${input.domain} has no MX record to take the hostname from: give --config or --hostname`);
}

async function ipsOf(input: DoctorInput, hostname: string): Promise<string[]> {
  if (input.ips && input.ips.length > 0) return input.ips;
  const found: string[] = [];
  for (const lookup of [input.resolver.resolveA, input.resolver.resolveAaaa]) {
    try {
      found.push(...(await lookup.call(input.resolver, hostname)).records);
    } catch (error) {
      if (!isDnsError(error)) throw error;
    }
  }
  if (found.length === 0)
    throw new DoctorInputError(`${hostname} has no A or AAAA record: give each sending IP with --ip`);
  return found;
}

/** The host to connect to for a listening address: a wildcard one is reached on loopback. */
function reachable(address: ListenAddress): string {
  if (address.host === '::' || address.host === '[::]') return '::1';
  if (address.host === '0.0.0.0' || address.host === '') return '127.0.0.1';
  return address.host.replace(/^\[|\]$/g, '');
}

function listenersOf(config: Config | undefined, ips: string[]): ListenerTarget[] {
  if (!config) return ips.slice(0, 1).map((ip) => ({ listener: 'mx', host: ip, port: 25, mode: 'starttls' as const }));
  const targets: ListenerTarget[] = [];
  const add = (listener: string, addresses: ListenAddress[], mode: ListenerTarget['mode']) => {
    for (const address of addresses.slice(0, 1))
      targets.push({ listener, host: reachable(address), port: address.port, mode });
  };
  add('mx', config.listen.mx, 'starttls');
  add('submission', config.listen.submission, 'starttls');
  add('submissions', config.listen.submissions, 'implicit');
  return targets;
}

async function ourDkimKey(config: Config | undefined, domain: string, selector: string) {
  if (!config) return { key: undefined, problem: undefined };
  const path = dkimKeyPath(config.state, domain, selector);
  try {
    const info = describeKey(await readFile(path), path);
    return { key: { publicKey: info.publicKey, algorithm: info.algorithm, bits: info.bits }, problem: undefined };
  } catch (error) {
    return { key: undefined, problem: `cannot read our DKIM key ${path} (${(error as Error).message})` };
  }
}

/** Runs every check and grades the result against the providers' requirements. */
export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const domain = input.domain.toLowerCase().replace(/\.$/, '');
  const { resolver } = input;
  for (const ip of input.ips ?? []) {
    if (!isIP(ip)) throw new DoctorInputError(`--ip ${ip} is not an IP address; give an IPv4 or IPv6 address`);
  }
  const hostname = await hostnameOf(input);
  const ips = await ipsOf(input, hostname);
  const dkim = await ourDkimKey(input.config, domain, input.selector);
  const zones =
    input.dnsblZones ??
    (input.config?.filters.dnsbl.zones.length ? input.config.filters.dnsbl.zones : defaultDnsblZones);
  const auditInput: DomainAuditInput = {
    domain,
    hostname,
    ips,
    selector: input.selector,
    resolver,
    ...(dkim.key ? { dkimKey: dkim.key } : {}),
    ...(input.ca ? { ca: input.ca } : {}),
    ...(input.mtaStsPort ? { mtaStsPort: input.mtaStsPort } : {}),
  };
  const [audit, a, reverse, spf, tlsRpt, tls, dnsbl] = await Promise.all([
    auditChecks(auditInput),
    checkAddresses(resolver, hostname, ips),
    Promise.all(ips.map((ip) => checkReverse(resolver, hostname, ip))),
    checkSpfRecord(resolver, domain, hostname, ips),
    checkTlsRpt(resolver, domain),
    checkListeners(listenersOf(input.config, ips), hostname, {
      ...(input.ca ? { ca: input.ca } : {}),
      ...(input.config ? { certFile: input.config.tls.cert } : {}),
    }),
    Promise.all(ips.map((ip) => checkDnsblListing(resolver, ip, zones))),
  ]);
  const byName = (name: string) => audit.filter((check) => check.name === name);
  const dkimChecks = byName('dkim');
  if (dkim.problem) for (const check of dkimChecks) check.message += `; ${dkim.problem}`;
  const confirmed = new Map(reverse.flatMap((result) => [...result.confirmed]));
  const checks: DoctorCheck[] = [
    ...byName('mx'),
    a,
    ...reverse.flatMap((result) => result.checks.filter((check) => check.name === 'ptr')),
    ...reverse.flatMap((result) => result.checks.filter((check) => check.name === 'fcrdns')),
    checkHelo(hostname, ips, confirmed),
    spf,
    ...dkimChecks,
    ...byName('dmarc'),
    ...byName('mta-sts'),
    tlsRpt,
    await checkTlsa(resolver, domain, hostname, tls.certificate),
    ...tls.checks,
    ...dnsbl,
  ];
  return { domain, checks, providers: gradeProviders(checks, domain) };
}

/**
 * The report with more checks appended (e.g. those of `doctor --send`) and the provider table graded
 * again, so that a `send` check fills the rows only a sent message can show.
 */
export function withMoreChecks(report: DoctorReport, more: DoctorCheck[]): DoctorReport {
  const checks = [...report.checks, ...more];
  return { domain: report.domain, checks, providers: gradeProviders(checks, report.domain) };
}
