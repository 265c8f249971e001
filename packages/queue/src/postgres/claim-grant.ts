import { randomBytes } from 'node:crypto';
import { claimOf, dueByDomain } from '../internal/message-entry';
import type { Claim } from '../queue';
import { dueAtOf, type LoadedMessage } from './message-rows';

/**
 * Decides, without I/O, the claims of the messages a claim locked (in the order they were found):
 * the due recipients of each domain without a running lease, up to `limit`, each under a new lease
 * until `until`. Gives the claims, and the parameters of `grantLeasesSql` (leases and due times).
 */
export function grantClaims(
  loaded: readonly LoadedMessage[],
  context: {
    now: number;
    until: number;
    limit: number;
    lifetime: number;
    wanted: ((domain: string) => boolean) | undefined;
    owner: string;
  },
): { claims: Claim[]; grants: unknown[] } {
  const { now, until, limit } = context;
  const claims: Claim[] = [];
  const leases = { ids: [] as string[], domains: [] as string[], leaseIds: [] as string[], expired: [] as boolean[] };
  const due = { ids: [] as string[], at: [] as number[] };
  for (const message of loaded) {
    if (claims.length >= limit) break;
    const { entry } = message;
    // Past its lifetime a message, held or not, is handed out whole, to be bounced.
    const expired = now >= entry.stored.createdAt + context.lifetime;
    if (entry.held && !expired) continue;
    let granted = false;
    for (const [domain, rcpts] of dueByDomain(entry, expired ? undefined : now, context.wanted)) {
      if (claims.length >= limit) break;
      const currentId = entry.leases.get(domain);
      const current = currentId === undefined ? undefined : message.leases.get(currentId);
      if (current !== undefined && current.lease_until > now) continue;
      if (currentId !== undefined) message.leases.delete(currentId);
      const leaseId = `${entry.stored.id}.${randomBytes(6).toString('hex')}`;
      message.leases.set(leaseId, { domain, lease_id: leaseId, lease_until: until, expired, owner: context.owner });
      entry.leases.set(domain, leaseId);
      leases.ids.push(entry.stored.id);
      leases.domains.push(domain);
      leases.leaseIds.push(leaseId);
      leases.expired.push(expired);
      claims.push(claimOf(entry, { leaseId, until, domain, expired }, rcpts));
      granted = true;
    }
    if (granted) {
      due.ids.push(entry.stored.id);
      due.at.push(dueAtOf(message, context.lifetime));
    }
  }
  const grants = [
    leases.ids,
    leases.domains,
    leases.leaseIds,
    leases.ids.map(() => until),
    leases.expired,
    leases.ids.map(() => context.owner),
    due.ids,
    due.at,
  ];
  return { claims, grants };
}
