import type { Claim, MessageInfo, RecipientInfo, RecipientState } from '../queue';
import type { StoredMessage } from './batch-file';
import type { JournalRecord } from './journal';

/** One recipient in memory. */
export interface RecipientEntry {
  address: string;
  domain: string;
  state: RecipientState;
  attempts: number;
  next: number;
  reply?: string;
  expired?: boolean;
}

/** One live message in the in-memory index (never its body). */
export interface MessageEntry {
  stored: StoredMessage;
  batch: string;
  held: boolean;
  warned: boolean;
  rcpts: RecipientEntry[];
  /** domain -> lease id */
  leases: Map<string, string>;
  /** True once the journal holds a record of it; a message never journaled needs none in a snapshot. */
  journaled: boolean;
  /** Bumped on every reschedule of its due-index item, so older items are known stale. */
  version: number;
  /** Serialises changes of this message so that full-state journal records never race. */
  lock: Promise<unknown>;
}

/** The domain of an address, lower-cased (the part after the last '@'). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return (at === -1 ? '' : address.slice(at + 1)).toLowerCase();
}

/** True once a recipient needs no more attempts. */
export function isFinal(state: RecipientState): boolean {
  return state === 'delivered' || state === 'failed';
}

/** Builds the entry of a stored message, applying its journal state when there is one. */
export function entryFrom(stored: StoredMessage, batch: string, record: JournalRecord | undefined): MessageEntry {
  const rcpts = stored.recipients.map((address, index): RecipientEntry => {
    const saved = record?.rcpts?.[index];
    const entry: RecipientEntry = {
      address,
      domain: domainOf(address),
      state: saved?.s ?? 'pending',
      attempts: saved?.a ?? 0,
      next: saved?.n ?? stored.createdAt,
    };
    if (saved?.r !== undefined) entry.reply = saved.r;
    if (saved?.x === 1) entry.expired = true;
    return entry;
  });
  return {
    stored,
    batch,
    held: record?.held === 1,
    warned: record?.warned === 1,
    rcpts,
    leases: new Map(),
    journaled: record !== undefined,
    version: 0,
    lock: Promise.resolve(),
  };
}

/** The journal record holding an entry's whole mutable state. */
export function recordOf(id: string, held: boolean, warned: boolean, rcpts: readonly RecipientEntry[]): JournalRecord {
  const record: JournalRecord = {
    id,
    rcpts: rcpts.map((r) => ({
      s: r.state,
      a: r.attempts,
      n: r.next,
      ...(r.reply === undefined ? {} : { r: r.reply }),
      ...(r.expired ? { x: 1 as const } : {}),
    })),
  };
  if (held) record.held = 1;
  if (warned) record.warned = 1;
  return record;
}

/** The public view of a recipient. */
export function recipientInfo(r: RecipientEntry): RecipientInfo {
  const info: RecipientInfo = {
    address: r.address,
    domain: r.domain,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next,
  };
  if (r.reply !== undefined) info.reply = r.reply;
  if (r.expired) info.expired = true;
  return info;
}

/** The public view of a message. */
export function messageInfo(entry: MessageEntry): MessageInfo {
  return {
    id: entry.stored.id,
    seq: entry.stored.seq,
    sender: entry.stored.sender,
    attributes: { ...entry.stored.attributes },
    size: entry.stored.length,
    createdAt: entry.stored.createdAt,
    held: entry.held,
    delayWarned: entry.warned,
    recipients: entry.rcpts.map(recipientInfo),
  };
}

/** Which destination domains a claim wants (`domain` and `exceptDomains` of `ClaimOptions`). */
export function domainFilter(options: {
  domain?: string;
  exceptDomains?: readonly string[];
}): ((domain: string) => boolean) | undefined {
  const only = options.domain?.toLowerCase();
  const except = new Set((options.exceptDomains ?? []).map((d) => d.toLowerCase()));
  if (only === undefined && except.size === 0) return undefined;
  return (domain) => (only === undefined || domain === only) && !except.has(domain);
}

/**
 * The open recipients of a message due at `now`, grouped by domain (optionally only the domains
 * `wanted` accepts); every open one, due or not, when `now` is undefined (an expired message).
 */
export function dueByDomain(
  entry: MessageEntry,
  now: number | undefined,
  wanted?: (domain: string) => boolean,
): Map<string, RecipientEntry[]> {
  const byDomain = new Map<string, RecipientEntry[]>();
  for (const r of entry.rcpts) {
    if (isFinal(r.state) || (now !== undefined && r.next > now)) continue;
    if (wanted !== undefined && !wanted(r.domain)) continue;
    const list = byDomain.get(r.domain);
    if (list === undefined) byDomain.set(r.domain, [r]);
    else list.push(r);
  }
  return byDomain;
}

/**
 * The earliest time a message may have claimable work: the earliest next attempt of an open
 * recipient (for a held message, its expiry, when it is handed out to be bounced), but not before
 * the end of the lease covering its domain; undefined when nothing is open.
 */
export function wakeTime(
  entry: MessageEntry,
  expiresAt: number,
  leaseUntil: (leaseId: string) => number,
): number | undefined {
  let at = Number.POSITIVE_INFINITY;
  for (const r of entry.rcpts) {
    if (isFinal(r.state)) continue;
    const leaseId = entry.leases.get(r.domain);
    const due = entry.held ? expiresAt : Math.min(r.next, expiresAt);
    at = Math.min(at, Math.max(due, leaseId === undefined ? 0 : leaseUntil(leaseId)));
  }
  return at === Number.POSITIVE_INFINITY ? undefined : at;
}

/** The claim handed out for recipients `rcpts` of one domain of a message, under a lease. */
export function claimOf(
  entry: MessageEntry,
  lease: { leaseId: string; until: number; domain: string; expired: boolean },
  rcpts: readonly RecipientEntry[],
): Claim {
  const claim: Claim = {
    id: entry.stored.id,
    leaseId: lease.leaseId,
    leaseUntil: lease.until,
    domain: lease.domain,
    sender: entry.stored.sender,
    attributes: { ...entry.stored.attributes },
    size: entry.stored.length,
    createdAt: entry.stored.createdAt,
    recipients: rcpts.map((r) => ({ address: r.address, attempts: r.attempts })),
  };
  if (lease.expired) claim.expired = true;
  return claim;
}
