import type { Resolver } from '@homing/dns';
import { checkDnsbl, checkFcrdns, checkRdns } from '@homing/policy';
import type { FiltersConfig } from '../../config/config-types';
import { dnsErrorVerdict, type FilterVerdict, withBudget } from './filter-verdict';

/** What the connect phase learnt about the client: its PTR names and the filters' verdicts. */
export interface ConnectFindings {
  /** The first PTR name that resolves back to the address (FCrDNS), else the first PTR name. */
  host: string | undefined;
  /** True when a PTR name resolves back to the address. */
  confirmed: boolean;
  /** One verdict per enabled filter that did not simply pass. */
  verdicts: FilterVerdict[];
}

/**
 * The connect phase (OpenSMTPD's `connect` filters): rDNS, FCrDNS and DNSBL, each under the
 * filters' time budget, run side by side. A DNS failure gives the filter's `on_dns_error`.
 */
export async function runConnectChecks(
  ip: string,
  filters: FiltersConfig,
  resolver: Resolver,
  signal?: AbortSignal,
): Promise<ConnectFindings> {
  const findings: ConnectFindings = { host: undefined, confirmed: false, verdicts: [] };
  const { rdns, fcrdns, dnsbl } = filters;
  const tasks: Promise<void>[] = [];
  if (rdns.enabled || fcrdns.enabled) tasks.push(reverseChecks(ip, filters, resolver, findings, signal));
  if (dnsbl.enabled && dnsbl.zones.length > 0) tasks.push(dnsblCheck(ip, filters, resolver, findings, signal));
  await Promise.all(tasks);
  return findings;
}

async function reverseChecks(
  ip: string,
  filters: FiltersConfig,
  resolver: Resolver,
  findings: ConnectFindings,
  signal?: AbortSignal,
): Promise<void> {
  const { rdns, fcrdns } = filters;
  const budget = filters.timeoutMs;
  const timedOut = { result: 'temperror' as const, names: [] as string[], confirmed: [] as string[] };
  // FCrDNS looks the PTR names up first, so one call answers both filters.
  const outcome = fcrdns.enabled
    ? await withBudget(
        budget,
        (s) => checkFcrdns(ip, { resolver, signal: s }),
        () => ({ ...timedOut, ip, reason: `reverse DNS of ${ip} took longer than ${budget} ms` }),
        signal,
      )
    : await withBudget(
        budget,
        async (s) => ({ ...(await checkRdns(ip, { resolver, signal: s })), confirmed: [] as string[] }),
        () => ({ ...timedOut, ip, reason: `reverse DNS of ${ip} took longer than ${budget} ms` }),
        signal,
      );
  findings.confirmed = outcome.confirmed.length > 0;
  findings.host = outcome.confirmed[0] ?? outcome.names[0];
  if (outcome.result === 'temperror') {
    if (rdns.enabled) findings.verdicts.push(dnsErrorVerdict('rdns', rdns.onDnsError, outcome.reason));
    else findings.verdicts.push(dnsErrorVerdict('fcrdns', fcrdns.onDnsError, outcome.reason));
    return;
  }
  if (outcome.names.length === 0) {
    const reason = `${ip} has no PTR record`;
    if (rdns.enabled) findings.verdicts.push({ filter: 'rdns', action: rdns.action, reason });
    else if (fcrdns.enabled) findings.verdicts.push({ filter: 'fcrdns', action: fcrdns.action, reason });
    return;
  }
  if (fcrdns.enabled && outcome.result !== 'pass') {
    const reason = `no PTR name of ${ip} (${outcome.names.slice(0, 3).join(', ')}) resolves back to it`;
    findings.verdicts.push({ filter: 'fcrdns', action: fcrdns.action, reason });
  }
}

async function dnsblCheck(
  ip: string,
  filters: FiltersConfig,
  resolver: Resolver,
  findings: ConnectFindings,
  signal?: AbortSignal,
): Promise<void> {
  const { dnsbl } = filters;
  const result = await withBudget(
    filters.timeoutMs,
    (s) => checkDnsbl(ip, dnsbl.zones, { resolver, signal: s }),
    () => undefined,
    signal,
  );
  if (result === undefined) {
    findings.verdicts.push(
      dnsErrorVerdict('dnsbl', dnsbl.onDnsError, `DNSBL lookups took longer than ${filters.timeoutMs} ms`),
    );
    return;
  }
  const listed = result.zones.find((zone) => zone.status === 'listed');
  if (listed) {
    const text = dnsbl.message.replaceAll('{ip}', ip).replaceAll('{zone}', listed.zone);
    const meaning = listed.codes.map((c) => `${c.code} ${c.meaning}`).join(', ');
    findings.verdicts.push({
      filter: 'dnsbl',
      action: dnsbl.action,
      reason: `${ip} listed in ${listed.zone}${meaning ? ` (${meaning})` : ''}`,
      replyText: text,
    });
    return;
  }
  const failed = result.zones.find((zone) => zone.status === 'no-answer');
  if (failed) {
    findings.verdicts.push(
      dnsErrorVerdict(
        'dnsbl',
        dnsbl.onDnsError,
        `DNSBL ${failed.zone} gave no usable answer: ${failed.error ?? 'unknown'}`,
      ),
    );
  }
}
