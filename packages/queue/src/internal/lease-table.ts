import { QueueError } from '../queue-error';
import type { MessageEntry } from './message-entry';
import { randomHex } from './random-hex';

/** One lease: the work of one (message, domain) handed to one worker until `until`. */
export interface Lease {
  id: string;
  domain: string;
  until: number;
  /** Handed out because the message outlived its lifetime: its failures are expiries. */
  expired: boolean;
}

/**
 * The leases in memory (they are not kept across a restart: every lease is free again). A
 * message's entry maps each of its domains to the current lease id; a lease is held while it is
 * that current one, even past its end, until another worker is handed the same work.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();

  /** When a lease ends; 0 for one that does not exist. */
  until(leaseId: string): number {
    return this.leases.get(leaseId)?.until ?? 0;
  }

  /**
   * Leases the work of `domain` of `entry` until `until`, unless a lease of it is still running at
   * `now`; resolves to the new lease id, or undefined.
   */
  grant(entry: MessageEntry, domain: string, now: number, until: number, expired: boolean): string | undefined {
    const current = entry.leases.get(domain);
    if (current !== undefined && this.until(current) > now) return undefined;
    if (current !== undefined) this.leases.delete(current);
    const id = entry.stored.id;
    const leaseId = `${id}.${randomHex(6)}`;
    this.leases.set(leaseId, { id, domain, until, expired });
    entry.leases.set(domain, leaseId);
    return leaseId;
  }

  /** The lease and its message, or LEASE_LOST when it was handed out again, settled, or never existed. */
  held(leaseId: string, entries: ReadonlyMap<string, MessageEntry>): { lease: Lease; entry: MessageEntry } {
    const lease = this.leases.get(leaseId);
    const entry = lease === undefined ? undefined : entries.get(lease.id);
    if (lease === undefined || entry === undefined || entry.leases.get(lease.domain) !== leaseId) {
      throw new QueueError(
        'LEASE_LOST',
        `lease ${leaseId} is not held any more (expired and claimed again, settled, removed, or unknown)`,
      );
    }
    return { lease, entry };
  }

  /** Ends one lease (its work was settled). */
  end(entry: MessageEntry, lease: Lease, leaseId: string): void {
    entry.leases.delete(lease.domain);
    this.leases.delete(leaseId);
  }

  /** Ends every lease of a message that left the queue. */
  endAll(entry: MessageEntry): void {
    for (const leaseId of entry.leases.values()) this.leases.delete(leaseId);
  }
}
