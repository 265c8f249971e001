// The shape of `homing doctor`'s results. Scripts read the JSON form, so these names are a contract:
// `{ domain, checks: [{ name, status, ip?, message, record? }], providers: [{ provider, requirement, status }] }`.

/** The checks `homing doctor` runs; `ptr`, `fcrdns` and `dnsbl` once per IP. A later check (`send`) may be appended. */
export type CheckName =
  | 'mx'
  | 'a'
  | 'ptr'
  | 'fcrdns'
  | 'helo'
  | 'spf'
  | 'dkim'
  | 'dmarc'
  | 'mta-sts'
  | 'tls-rpt'
  | 'tlsa'
  | 'tls'
  | 'dnsbl';

/** `ok`; `warn` (works, but could be better, or was not checked and says why); `error` (fix it). */
export type CheckStatus = 'ok' | 'warn' | 'error';

/** One result of one check. */
export interface DoctorCheck {
  /** A `CheckName`; typed as a string so that other checks (`doctor --send`) can be appended. */
  name: CheckName | (string & {});
  status: CheckStatus;
  /** The address the check is about (ptr, fcrdns, dnsbl). */
  ip?: string;
  /** One sentence: what was found and, when not ok, what to do. */
  message: string;
  /** The exact record to publish (zone-file lines) or file to serve, when one is missing or wrong. */
  record?: string;
}

/** The big mailbox providers whose published sender requirements doctor grades against. */
export type Provider = 'Gmail' | 'Yahoo' | 'Microsoft';

/**
 * A requirement's grade for one provider: `ok`/`warn`/`error` from the checks (`warn` where the provider
 * asks it only of bulk senders or only recommends it), `not-applicable` (only for bulk mail) or
 * `not-checkable` (the provider measures it, or only `doctor --send` can see it).
 */
export type GradeStatus = CheckStatus | 'not-applicable' | 'not-checkable';

/** One cell of the provider table. */
export interface ProviderGrade {
  provider: Provider;
  requirement: string;
  status: GradeStatus;
}

/** What `homing doctor` reports. */
export interface DoctorReport {
  domain: string;
  checks: DoctorCheck[];
  providers: ProviderGrade[];
}

/** True when no check is an error (doctor's exit status 0). */
export function reportPasses(report: Pick<DoctorReport, 'checks'>): boolean {
  return report.checks.every((check) => check.status !== 'error');
}
