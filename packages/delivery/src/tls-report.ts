/** The policy that applied to a session (RFC 8460 4.4 `policy-type`). */
export type TlsPolicyType = 'sts' | 'tlsa' | 'no-policy-found';

/** Why a TLS session failed (RFC 8460 4.3 result types), or `success`. */
export type TlsResultType =
  | 'success'
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'sts-policy-fetch-error';

/** The counters of one policy domain, in the spirit of an RFC 8460 report. */
export interface TlsDomainCounters {
  domain: string;
  policyType: TlsPolicyType;
  successful: number;
  failed: number;
  /** Failures by result type, each with the MX host of its last occurrence. */
  failures: { resultType: Exclude<TlsResultType, 'success'>; count: number; receivingMx: string }[];
}

/**
 * Counts what happened to TLS per recipient domain and policy (RFC 8460: TLS reporting), so an
 * operator can see and send TLS-RPT aggregate reports. In memory; `snapshot()` copies it.
 */
export class TlsReportCounters {
  readonly #domains = new Map<string, TlsDomainCounters>();

  /** Records one session's TLS result for `domain` under `policyType`. */
  record(domain: string, policyType: TlsPolicyType, result: TlsResultType, receivingMx: string): void {
    const key = `${domain}\u0000${policyType}`;
    let entry = this.#domains.get(key);
    if (entry === undefined) {
      entry = { domain, policyType, successful: 0, failed: 0, failures: [] };
      this.#domains.set(key, entry);
    }
    if (result === 'success') {
      entry.successful += 1;
      return;
    }
    entry.failed += 1;
    const failure = entry.failures.find((item) => item.resultType === result);
    if (failure === undefined) entry.failures.push({ resultType: result, count: 1, receivingMx });
    else {
      failure.count += 1;
      failure.receivingMx = receivingMx;
    }
  }

  /** A copy of every domain's counters. */
  snapshot(): TlsDomainCounters[] {
    return [...this.#domains.values()].map((entry) => ({
      ...entry,
      failures: entry.failures.map((failure) => ({ ...failure })),
    }));
  }
}

/** The RFC 8460 result type for a certificate verification error code from Node's TLS. */
export function resultTypeOfCertificateError(code: string | undefined): Exclude<TlsResultType, 'success'> {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate-host-mismatch';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'
  ) {
    return 'certificate-not-trusted';
  }
  return 'validation-failure';
}
