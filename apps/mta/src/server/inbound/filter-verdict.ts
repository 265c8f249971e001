import type { Decision } from '@homing/smtp/server';
import type { DnsErrorAction, FilterAction } from '../../config/config-types';

/** What one filter decided about a connection or a message, with the reason people read. */
export interface FilterVerdict {
  /** The filter's name as in the config (`rdns`, `fcrdns`, `dnsbl`, `spf`, `dmarc`). */
  filter: string;
  action: FilterAction;
  reason: string;
  /** True when the verdict came from a DNS failure or the time budget, not from an answer. */
  dnsError?: boolean;
  /** The text of the SMTP reply when it refuses, if not the reason (a DNSBL's configured message). */
  replyText?: string;
}

/** The reply of a refusing verdict: its SMTP code and enhanced status (RFC 3463, RFC 7372). */
export interface RefusalReply {
  code: number;
  enhanced: string;
  text: string;
}

// RFC 7372 3: the enhanced status codes of the authentication checks.
const REJECT_STATUS: Record<string, string> = {
  rdns: '5.7.25',
  fcrdns: '5.7.25',
  spf: '5.7.23',
  dmarc: '5.7.1',
  dnsbl: '5.7.1',
};

/** The verdict a DNS failure gives a filter: its configured `on_dns_error`. */
export function dnsErrorVerdict(filter: string, onDnsError: DnsErrorAction, reason: string): FilterVerdict {
  return { filter, action: onDnsError, reason, dnsError: true };
}

/** The reply for a verdict that rejects or tempfails; undefined for accept and junk. */
export function refusalOf(verdict: FilterVerdict, text = verdict.replyText): RefusalReply | undefined {
  if (verdict.action === 'reject') {
    return { code: 550, enhanced: REJECT_STATUS[verdict.filter] ?? '5.7.1', text: text ?? verdict.reason };
  }
  if (verdict.action === 'tempfail') {
    // RFC 3463 4.4.3: directory server failure (DNS); else 4.7.1, a policy that may pass later.
    return {
      code: 451,
      enhanced: verdict.dnsError ? '4.4.3' : '4.7.1',
      text: `${text ?? verdict.reason}; try again later`,
    };
  }
  return undefined;
}

/** The first refusing verdict (reject before tempfail), or undefined. */
export function firstRefusal(verdicts: readonly FilterVerdict[]): FilterVerdict | undefined {
  return verdicts.find((v) => v.action === 'reject') ?? verdicts.find((v) => v.action === 'tempfail');
}

/** An SMTP decision from a refusal reply. */
export function rejectDecision(reply: RefusalReply): Decision {
  return { action: 'reject', code: reply.code, enhanced: reply.enhanced, text: reply.text };
}

/**
 * Runs a DNS-dependent check under its time budget: resolves to the check's value, or to
 * `onTimeout()` when the budget runs out first (the check is aborted through its signal).
 */
export async function withBudget<T>(
  budgetMs: number,
  check: (signal: AbortSignal) => Promise<T>,
  onTimeout: () => T,
  parent?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  parent?.addEventListener('abort', abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(onTimeout());
    }, budgetMs);
  });
  try {
    return await Promise.race([check(controller.signal), timeout]);
  } catch (error) {
    // An aborted check (budget or closed connection) counts as a timeout, not a crash.
    if (controller.signal.aborted) return onTimeout();
    throw error;
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', abort);
  }
}
