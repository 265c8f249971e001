// auditDomain: checks our own domain the way receivers will, and says which record to publish.
import { getMtaStsPolicy, type MtaStsFetcher, mtaStsAllowsMx } from '@homing/mta-sts';
import { auditDkim, auditDmarc, auditSpf, type DkimSelectorInput } from './internal/audit-auth';
import { auditAddress, auditMx, auditReverse } from './internal/audit-host';
import type { AuditFinding, RecordToPublish } from './internal/audit-types';
import { parseIp } from './internal/ip-address';
import type { Resolver } from './internal/resolver';

export type { AuditFinding, DkimSelectorInput, RecordToPublish };

/** What auditDomain checks: our mail domain, our host name (the HELO name), its sending address, our DKIM selectors. */
export interface AuditInput {
  domain: string;
  hostname: string;
  ip: string;
  dkimSelectors: DkimSelectorInput[];
}

/** Options of auditDomain. */
export interface AuditOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  /** The MTA-STS HTTPS fetcher (default: createHttpsFetcher()). */
  fetch?: MtaStsFetcher;
}

/** The audit: `ok` when no finding is an error. */
export interface AuditResult {
  domain: string;
  ok: boolean;
  findings: AuditFinding[];
}

function stsId(): string {
  return new Date()
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 14);
}

async function auditMtaSts(domain: string, hostname: string, options: AuditOptions): Promise<AuditFinding> {
  const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
  const body = `version: STSv1\r\nmode: enforce\r\nmx: ${hostname}\r\nmax_age: 604800\r\n`;
  const fix = {
    publish: [{ name: `_mta-sts.${domain}`, type: 'TXT' as const, value: `v=STSv1; id=${stsId()}` }],
    serve: { url, body },
  };
  const result = await getMtaStsPolicy(domain, { resolver: options.resolver, fetch: options.fetch });
  if (result.status === 'none')
    return { check: 'mta-sts', status: 'warning', message: `${domain} publishes no MTA-STS policy`, ...fix };
  if (result.status === 'error' || !result.policy)
    return { check: 'mta-sts', status: 'error', message: result.reason, ...fix };
  const { policy } = result;
  if (policy.mode !== 'none' && !mtaStsAllowsMx(policy, hostname)) {
    return {
      check: 'mta-sts',
      status: 'error',
      message: `the MTA-STS policy's mx lines (${policy.mx.join(', ')}) do not cover ${hostname}`,
      ...fix,
    };
  }
  if (policy.mode !== 'enforce') {
    return { check: 'mta-sts', status: 'warning', message: `the MTA-STS policy is in ${policy.mode} mode`, ...fix };
  }
  return {
    check: 'mta-sts',
    status: 'ok',
    message: `MTA-STS policy id ${policy.id} enforces mx ${policy.mx.join(', ')}`,
  };
}

/** Checks our own domain's mail DNS and says, for each problem, exactly what to publish. */
export async function auditDomain(input: AuditInput, options: AuditOptions): Promise<AuditResult> {
  const ip = parseIp(input.ip);
  const domain = input.domain.toLowerCase().replace(/\.$/, '');
  const hostname = input.hostname.toLowerCase().replace(/\.$/, '');
  const { resolver } = options;
  const groups = await Promise.all([
    auditMx(resolver, domain, hostname).then((finding) => [finding]),
    auditAddress(resolver, hostname, ip).then((finding) => [finding]),
    auditReverse(resolver, hostname, ip),
    auditSpf(resolver, domain, hostname, ip).then((finding) => [finding]),
    Promise.all(input.dkimSelectors.map((selector) => auditDkim(resolver, domain, selector))),
    auditDmarc(resolver, domain),
    auditMtaSts(domain, hostname, options).then((finding) => [finding]),
  ]);
  const findings = groups.flat();
  return { domain, ok: findings.every((finding) => finding.status !== 'error'), findings };
}
