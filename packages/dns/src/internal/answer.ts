import { DnsError } from '../dns-error';
import type { Answer } from '../resolver';
import type { Outcome } from './interpret';

/**
 * What a lookup gives its caller: the records, or throws the error. `copy` when the outcome is also kept
 * elsewhere (cached or shared with other callers): each caller then gets an array of its own to change.
 */
export function answerOf<T>(name: string, type: string, outcome: Outcome, copy = true): Answer<T> {
  if (outcome.kind === 'failure') throw copyError(outcome.error, type);
  const records = (copy ? [...outcome.records] : outcome.records) as T[];
  return { name, records, ttl: outcome.ttl, authenticated: outcome.authenticated };
}

/**
 * Each caller gets its own error object (for the type it asked), so one caller changing it cannot affect another.
 * The copy has no stack frames: they would show only this function and the resolver's own (the failure was
 * found, and maybe cached, earlier), and capturing them cost more than the rest of a cached NXDOMAIN lookup,
 * which every message's DMARC check makes (`_dmarc.` of most sender domains does not exist).
 */
export function copyError(error: DnsError, type: string): DnsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DnsError(error.code, error.message, { hostname: error.hostname, type, cause: error.cause });
  } finally {
    Error.stackTraceLimit = limit;
  }
}
