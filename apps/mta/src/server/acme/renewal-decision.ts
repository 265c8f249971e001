// When to ask the CA for a certificate: a pure decision over what the store holds, so the rules
// (missing, stand-in, expiring, names changed) are tested without a CA or a clock.

/** What the store's certificate says about itself. */
export interface StoredCertificateInfo {
  /** The DNS names of its subjectAltName, lower-case. */
  names: string[];
  notAfterMs: number;
  /** True for the self-signed stand-in the server presents until the CA issued one. */
  standIn: boolean;
}

/** Keep the certificate, or obtain a new one and why. */
export type RenewalDecision =
  | { action: 'keep'; renewAtMs: number }
  | { action: 'issue'; reason: 'missing' | 'stand-in' | 'expiring' | 'names' | 'forced' };

/** The names one certificate covers: our host name, then `mta-sts.DOMAIN` for each domain (RFC 8461 3.3). */
export function certificateNames(hostname: string, domains: readonly string[]): string[] {
  return [...new Set([hostname, ...domains.map((domain) => `mta-sts.${domain}`)].map((name) => name.toLowerCase()))];
}

/** Whether to issue now; `forced` is the operator's `homing acme renew`. */
export function decideRenewal(options: {
  stored: StoredCertificateInfo | undefined;
  wanted: readonly string[];
  nowMs: number;
  renewBeforeMs: number;
  forced?: boolean;
}): RenewalDecision {
  const { stored, wanted, nowMs, renewBeforeMs } = options;
  if (options.forced) return { action: 'issue', reason: 'forced' };
  if (stored === undefined) return { action: 'issue', reason: 'missing' };
  if (stored.standIn) return { action: 'issue', reason: 'stand-in' };
  if (wanted.some((name) => !stored.names.includes(name))) return { action: 'issue', reason: 'names' };
  const renewAtMs = stored.notAfterMs - renewBeforeMs;
  if (nowMs >= renewAtMs) return { action: 'issue', reason: 'expiring' };
  return { action: 'keep', renewAtMs };
}
