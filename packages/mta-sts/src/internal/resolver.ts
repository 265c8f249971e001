// The resolver contract is @homing/dns's; only its types are used here, so that any object that
// keeps the contract (the real resolver, or a test double) can be passed in.
export type { Resolver } from '@homing/dns';

const noRecord = new Set<string>(['NXDOMAIN', 'NODATA']);
const dnsCodes = new Set<string>(['NXDOMAIN', 'NODATA', 'SERVFAIL', 'TIMEOUT', 'REFUSED', 'FORMERR', 'BADNAME']);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** True for a failure of @homing/dns (any of its codes) rather than a bug. */
export function isDnsFailure(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && dnsCodes.has(code);
}

/** True for the failures that mean "no such record" (NXDOMAIN, NODATA) rather than a fault. */
export function isNoRecord(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && noRecord.has(code);
}
