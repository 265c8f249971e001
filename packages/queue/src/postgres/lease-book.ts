// What a PostgreSQL queue instance remembers of the leases its own claims granted: the message
// each was granted on (so that its settle can decide and write without reading first), and the
// leases not yet settled (what `close` gives back: the message rows have no index by owner).
import { type KnownMessage, type LoadedMessage, loadedOfKnown } from './message-rows';

/** The most leases kept of each kind (a few hundred bytes each). */
const most = 20_000;

/** The message id a lease id starts with (`id.suffix`), without splitting it. */
export function messageIdOf(leaseId: string): string {
  if (typeof leaseId !== 'string') return '';
  const dot = leaseId.indexOf('.');
  return dot < 0 ? leaseId : leaseId.slice(0, dot);
}

export class LeaseBook {
  /** lease id -> the message as the claim's grant wrote it; the oldest forgotten past the bound. */
  private readonly known = new Map<string, KnownMessage>();
  /** lease id -> lease end, for the leases not settled; ended ones dropped as it grows. */
  private readonly outstanding = new Map<string, number>();

  /** Records the leases of a committed claim, every one of them until `until`. */
  granted(leased: readonly [leaseId: string, message: KnownMessage][], until: number, now: number) {
    for (const [leaseId, message] of leased) {
      this.known.set(leaseId, message);
      this.outstanding.set(leaseId, until);
    }
    if (this.outstanding.size > most) {
      for (const [leaseId, end] of this.outstanding) if (end <= now) this.outstanding.delete(leaseId);
    }
    for (const leaseId of this.known.keys()) {
      if (this.known.size <= most) break;
      this.known.delete(leaseId);
    }
  }

  /** The message of lease `leaseId` as the claim left it, forgotten as it is given (a settle, a renewal). */
  take(leaseId: string): LoadedMessage | undefined {
    const message = this.known.get(leaseId);
    if (message === undefined) return undefined;
    this.known.delete(leaseId);
    return loadedOfKnown(message);
  }

  /** The lease was renewed until `end`. */
  renewed(leaseId: string, end: number): void {
    this.known.delete(leaseId);
    this.outstanding.set(leaseId, end);
  }

  /** The lease ended: settled, or lost to another worker. */
  ended(leaseId: string): void {
    this.outstanding.delete(leaseId);
  }

  /** The ids of the messages under leases not settled that are still running at `now`. */
  runningMessages(now: number): string[] {
    return [...this.outstanding].flatMap(([leaseId, end]) => (end > now ? [messageIdOf(leaseId)] : []));
  }
}
