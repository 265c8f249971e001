import { randomBytes } from 'node:crypto';
import { claimOf, dueByDomain } from '../internal/message-entry';
import type { Claim } from '../queue';
import { dueAtOf, type LoadedMessage } from './message-rows';

/**
 * Decides, without I/O, the claims of the messages a claim locked (in the order they were found):
 * the due recipients of each domain without a running lease, up to `limit`, each under a new lease
 * until `until`. Gives the claims, and the parameters of `grantLeasesSql` (leases and due times);
 * brings the messages to what that statement writes (leases, due time, version + 1), and gives the
 * message of each lease granted, as it will be once the grant is committed.
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
): { claims: Claim[]; grants: unknown[] | undefined; leased: [leaseId: string, message: LoadedMessage][] } {
  const { now, until, limit } = context;
  const suffix = leaseSuffixes();
  const claims: Claim[] = [];
  const leased: [string, LoadedMessage][] = [];
  const leases = { ids: [] as string[], domains: [] as string[], leaseIds: [] as string[], expired: [] as boolean[] };
  const filed = { ids: [] as string[], at: [] as number[] };
  for (const message of loaded) {
    if (claims.length >= limit) break;
    const { entry } = message;
    // Past its lifetime a message, held or not, is handed out whole, to be bounced.
    const expired = now >= entry.stored.createdAt + context.lifetime;
    let granted = false;
    const due: ReturnType<typeof dueByDomain> =
      entry.held && !expired ? new Map() : dueByDomain(entry, expired ? undefined : now, context.wanted);
    for (const [domain, rcpts] of due) {
      if (claims.length >= limit) break;
      const currentId = entry.leases.get(domain);
      const current = currentId === undefined ? undefined : message.leases.get(currentId);
      if (current !== undefined && current.lease_until > now) continue;
      if (currentId !== undefined) message.leases.delete(currentId);
      const leaseId = `${entry.stored.id}.${suffix()}`;
      message.leases.set(leaseId, { domain, lease_id: leaseId, lease_until: until, expired, owner: context.owner });
      entry.leases.set(domain, leaseId);
      leases.ids.push(entry.stored.id);
      leases.domains.push(domain);
      leases.leaseIds.push(leaseId);
      leases.expired.push(expired);
      claims.push(claimOf(entry, { leaseId, until, domain, expired }, rcpts));
      leased.push([leaseId, message]);
      granted = true;
    }
    const dueAt = dueAtOf(message, context.lifetime);
    // A message locked with nothing to hand out (only with a domain filter, or a due time filed
    // too early) gets its due time right, so that the next claim's walk does not meet it again.
    if (granted || dueAt !== message.dueAt) {
      filed.ids.push(entry.stored.id);
      filed.at.push(dueAt);
      message.dueAt = dueAt;
      message.version += 1;
    }
  }
  // Every message granted a lease is refiled: nothing to write when none is.
  const grants =
    filed.ids.length === 0
      ? undefined
      : [
          leases.ids,
          leases.domains,
          leases.leaseIds,
          leases.ids.map(() => until),
          leases.expired,
          leases.ids.map(() => context.owner),
          filed.ids,
          filed.at,
        ];
  return { claims, grants, leased };
}

/** Random lease id suffixes (12 hex digits), drawn 64 at a time: one call into crypto, not one per lease. */
function leaseSuffixes(): () => string {
  let pool = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 6 > pool.length) {
      pool = randomBytes(6 * 64);
      at = 0;
    }
    at += 6;
    return pool.toString('hex', at - 6, at);
  };
}
