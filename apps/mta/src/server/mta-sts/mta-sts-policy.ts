// The MTA-STS policy we publish (RFC 8461 3.2), built from the config: a pure function, so the
// served text is tested as text.
import type { MtaStsConfig } from '../../config/config-types';

/** The policy file's text: `version`, `mode`, one `mx` (our host name), `max_age`, CRLF line ends. */
export function renderMtaStsPolicy(policy: MtaStsConfig, hostname: string): string {
  // RFC 8461 3.2: max_age at most 31557600 seconds (about a year).
  const maxAge = Math.min(Math.max(Math.round(policy.maxAgeSeconds), 0), 31_557_600);
  return ['version: STSv1', `mode: ${policy.mode}`, `mx: ${hostname}`, `max_age: ${maxAge}`, ''].join('\r\n');
}

/** The domain whose policy host `host` (the request's Host, maybe with a port) is, if it is one of ours. */
export function policyDomain(host: string | undefined, domains: readonly string[]): string | undefined {
  if (host === undefined) return undefined;
  const name = host.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  if (!name.startsWith('mta-sts.')) return undefined;
  const domain = name.slice('mta-sts.'.length);
  return domains.includes(domain) ? domain : undefined;
}
