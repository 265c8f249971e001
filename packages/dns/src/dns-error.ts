/** The kinds of DNS failure a lookup can end in; each is read differently by SPF, DMARC and delivery. */
export type DnsErrorCode =
  | 'NXDOMAIN'
  | 'NODATA'
  | 'SERVFAIL'
  | 'TIMEOUT'
  | 'REFUSED'
  | 'FORMERR'
  | 'BADNAME'
  | 'BADCONFIG'
  | 'BADZONE';

const TEMPORARY: ReadonlySet<string> = new Set(['SERVFAIL', 'TIMEOUT', 'REFUSED', 'FORMERR']);

/** The one error class of @homing/dns: `code` says what kind of failure it was, `name`/`type` what was asked. */
export class DnsError extends Error {
  /** Marks the error as ours across duplicate installs of the package, where `instanceof` fails. */
  readonly isDnsError = true as const;
  readonly code: DnsErrorCode;
  /** The name that was looked up, if any. */
  readonly hostname: string | undefined;
  /** The record type that was asked for, if any. */
  readonly type: string | undefined;

  constructor(
    code: DnsErrorCode,
    message: string,
    options: { hostname?: string; type?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DnsError';
    this.code = code;
    this.hostname = options.hostname;
    this.type = options.type;
  }
}

/** True for a `DnsError` (optionally of one `code`), recognised by shape so that it works across duplicate installs. */
export function isDnsError(error: unknown, code?: DnsErrorCode): error is DnsError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { isDnsError?: unknown; code?: unknown };
  if (candidate.isDnsError !== true || typeof candidate.code !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** True when the failure may go away if asked again later (SPF temperror, delivery retry). */
export function isTemporaryDnsError(error: unknown): error is DnsError {
  return isDnsError(error) && TEMPORARY.has(error.code);
}
