import type { PeerCertificate } from 'node:tls';
import { isDnsError, type TlsaRecord } from '@homing/dns';
import { type MtaStsPolicy, mtaStsAllowsMx } from '@homing/mta-sts';
import type { ClientTlsInfo, ClientTlsOptions } from '@homing/smtp/client';
import { matchTlsa } from '../dane';
import { DeliveryError } from '../delivery-error';
import type { DeliveryResolver } from '../mx-routing';
import { resultTypeOfCertificateError, type TlsPolicyType, type TlsResultType } from '../tls-report';

/** What TLS a session to one MX host must have, decided before connecting. */
export interface TlsRequirement {
  policyType: TlsPolicyType;
  /** DANE (RFC 7672) or MTA-STS enforce: no TLS, no delivery. */
  required: boolean;
  /** MTA-STS enforce: the certificate must be valid for the MX name (RFC 8461 4.2). */
  verifyPkix: boolean;
  /** DANE: the TLSA records the chain must match. */
  tlsa?: TlsaRecord[];
  /** Reference identifiers: the MX host, and the next-hop domain (RFC 7672 3.2.2). */
  hostnames: string[];
}

/** The TLSA records of `_<port>._tcp.<host>` when DNSSEC vouches for them; null when DANE does not apply. */
export async function lookupDane(
  resolver: DeliveryResolver,
  host: string,
  port: number,
  signal?: AbortSignal,
): Promise<TlsaRecord[] | null> {
  try {
    const answer = await resolver.resolveTlsa(`_${port}._tcp.${host}`, signal === undefined ? {} : { signal });
    // RFC 7672 2.2: only validated (AD) TLSA records count; insecure ones are ignored.
    return answer.authenticated ? answer.records : null;
  } catch (error) {
    if (isDnsError(error, 'NXDOMAIN') || isDnsError(error, 'NODATA')) return null;
    const code = isDnsError(error) ? error.code : undefined;
    // RFC 7672 2.2: a failed TLSA lookup under a signed zone must not lead to unauthenticated delivery.
    throw new DeliveryError('TLS_POLICY', `TLSA lookup for ${host} failed (${String(code ?? error)}): not delivering`, {
      cause: error,
    });
  }
}

/** The requirement for one MX host from its TLSA records (DANE wins over MTA-STS, RFC 8461 2) and the domain's policy. */
export function requirementFor(
  host: string,
  domain: string,
  tlsa: TlsaRecord[] | null,
  policy: MtaStsPolicy | null,
): TlsRequirement {
  const hostnames = [host, domain];
  if (tlsa !== null) return { policyType: 'tlsa', required: true, verifyPkix: false, tlsa, hostnames };
  if (policy !== null && policy.mode !== 'none') {
    const enforce = policy.mode === 'enforce' && mtaStsAllowsMx(policy, host);
    return { policyType: 'sts', required: enforce, verifyPkix: enforce, hostnames };
  }
  return { policyType: 'no-policy-found', required: false, verifyPkix: false, hostnames };
}

/** The client's TLS options for a requirement. */
export function clientTlsOptions(requirement: TlsRequirement, host: string, extra: ClientTlsOptions): ClientTlsOptions {
  const servername = /^[0-9.]+$|:/.test(host) ? {} : { servername: host };
  if (requirement.verifyPkix) {
    // RFC 8461 4.2: a certificate valid for the MX host name, TLS 1.2 or later.
    return { minVersion: 'TLSv1.2', ...extra, ...servername, mode: 'required', rejectUnauthorized: true };
  }
  // DANE checks the chain itself after the handshake; opportunistic TLS does not authenticate (RFC 7435).
  return {
    ...extra,
    ...servername,
    mode: requirement.required ? 'required' : 'opportunistic',
    rejectUnauthorized: false,
  };
}

/** The chain the server sent, leaf first, from `getPeerCertificate(true)`. */
function chainOf(peer: PeerCertificate | undefined): Buffer[] {
  const chain: Buffer[] = [];
  let current = peer as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined;
  const seen = new Set<string>();
  while (current?.raw !== undefined && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(current.raw);
    current = current.issuerCertificate;
  }
  return chain;
}

/** Checks an established session against its requirement; the RFC 8460 result and, on failure, why. */
export function checkSession(
  requirement: TlsRequirement,
  tls: ClientTlsInfo | undefined,
): { result: TlsResultType; failure?: string } {
  if (tls === undefined) {
    return requirement.required
      ? { result: 'starttls-not-supported', failure: 'the server did not offer STARTTLS' }
      : { result: 'starttls-not-supported' };
  }
  if (requirement.tlsa !== undefined) {
    const match = matchTlsa(requirement.tlsa, chainOf(tls.peerCertificate), { hostnames: requirement.hostnames });
    if (match.status === 'mismatch') return { result: 'validation-failure', failure: `DANE: ${match.reason}` };
    return { result: 'success' };
  }
  if (requirement.policyType === 'sts' && !tls.authorized) {
    const result = resultTypeOfCertificateError(tls.authorizationError);
    return requirement.verifyPkix
      ? { result, failure: `MTA-STS: certificate not valid (${tls.authorizationError ?? 'unknown'})` }
      : { result };
  }
  return { result: 'success' };
}

/** The RFC 8460 result type of a connection failure under a TLS requirement, or undefined if it is not about TLS. */
export function resultOfConnectFailure(error: unknown): Exclude<TlsResultType, 'success'> | undefined {
  const shaped = error as { code?: unknown; cause?: { code?: unknown } } | null;
  if (shaped?.code === 'TLS_UNAVAILABLE') return 'starttls-not-supported';
  if (shaped?.code !== 'TLS_FAILED') return undefined;
  const causeCode = typeof shaped.cause?.code === 'string' ? shaped.cause.code : undefined;
  return resultTypeOfCertificateError(causeCode);
}
