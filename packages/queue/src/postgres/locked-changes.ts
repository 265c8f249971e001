// The changes made under messages' row locks (FOR UPDATE, waiting for another holder), each
// inside the caller's transaction: the lock, then a fresh read, then the write.
import type { PoolClient } from 'pg';
import { QueueError } from '../queue-error';
import { dueAtOf, type LoadedMessage, loadMessages } from './message-rows';
import { grantLeasesSql, rescheduleSql, rescheduleTargetsSql } from './queue-sql';
import { deleteRowsOf, leaseLost } from './settle-statement';

/** Locks message `id` and loads it after the lock: undefined when it is gone. */
export async function lockMessage(client: PoolClient, s: string, id: string): Promise<LoadedMessage | undefined> {
  const locked = await client.query(`SELECT id FROM ${s}.messages WHERE id = $1 FOR UPDATE`, [id]);
  if (locked.rows.length === 0) return undefined;
  return (await loadMessages(client, s, [id]))[0];
}

const notFound = (id: string) => new QueueError('NOT_FOUND', `no message ${id} in the queue`);

/**
 * Moves the end of lease `leaseId` of message `id` to `until`; resolves to it. LEASE_LOST when the
 * message or the lease is gone (an expired lease not yet handed to anyone else is still its
 * worker's: it may be renewed).
 */
export async function renewLeaseOf(
  client: PoolClient,
  s: string,
  id: string,
  leaseId: string,
  until: number,
  schedule: { maximalLifetimeMs: number },
): Promise<number> {
  const message = await lockMessage(client, s, id);
  const lease = message?.leases.get(leaseId);
  if (message === undefined || lease === undefined) throw leaseLost(leaseId);
  lease.lease_until = until;
  await writeLeases(client, s, [message], schedule.maximalLifetimeMs);
  return until;
}

/** Holds or releases message `id`, its due time refiled (a held message is due at its expiry); NOT_FOUND when gone. */
export async function setHeldOf(
  client: PoolClient,
  s: string,
  id: string,
  held: boolean,
  schedule: { maximalLifetimeMs: number },
): Promise<void> {
  const message = await lockMessage(client, s, id);
  if (message === undefined) throw notFound(id);
  message.entry.held = held;
  await client.query(`UPDATE ${s}.messages SET held = $2, due_at = $3, version = version + 1 WHERE id = $1`, [
    id,
    held,
    dueAtOf(message, schedule.maximalLifetimeMs),
  ]);
}

/** Deletes message `id` and its rows; resolves to its body file (to delete once committed), NOT_FOUND when gone. */
export async function removeMessage(client: PoolClient, s: string, id: string): Promise<string | null> {
  // Locked first: a claim committing meanwhile cannot leave a lease behind the delete.
  const message = await lockMessage(client, s, id);
  if (message === undefined) throw notFound(id);
  await client.query(
    `WITH ok AS (DELETE FROM ${s}.messages WHERE id = $1 RETURNING id), ${deleteRowsOf(s).join(', ')}
     SELECT 1`,
    [id],
  );
  return message.bodyFile;
}

/** Writes the due times of locked messages and their lease lists (their `leases` maps as they are now), as their recipients and leases say. */
export async function writeLeases(
  client: PoolClient,
  s: string,
  messages: readonly LoadedMessage[],
  lifetime: number,
): Promise<void> {
  if (messages.length === 0) return;
  const rows = messages.map((m) => ({
    id: m.entry.stored.id,
    due: dueAtOf(m, lifetime),
    leases: m.leases.size === 0 ? null : [...m.leases.values()],
  }));
  await client.query(grantLeasesSql(s), [rows.map((row) => row.id), JSON.stringify(rows)]);
}

/** Makes message `id` (or every message) due at `now`; resolves to how many were rescheduled. */
export async function rescheduleMessages(
  client: PoolClient,
  s: string,
  id: string | undefined,
  now: number,
  lifetime: number,
): Promise<number> {
  if (id !== undefined) {
    const found = await client.query(`SELECT 1 FROM ${s}.messages WHERE id = $1`, [id]);
    if (found.rows.length === 0) throw notFound(id);
  }
  // Locked in id order, so that two reschedules of everything never deadlock.
  const targets = await client.query<{ id: string }>(rescheduleTargetsSql(s), [id ?? null, now]);
  const ids = targets.rows.map((row) => row.id);
  if (ids.length === 0) return 0;
  await client.query(rescheduleSql(s), [ids, now]);
  await writeLeases(client, s, await loadMessages(client, s, ids), lifetime);
  return ids.length;
}

/**
 * Ends the leases of `owner` (a queue being closed) on messages `ids` (those it knows it leased:
 * the message rows have no index by owner), so other hosts may take the work at once.
 */
export async function giveLeasesBack(
  client: PoolClient,
  s: string,
  owner: string,
  ids: readonly string[],
  lifetime: number,
): Promise<void> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return;
  // Locked in id order, so that two closing hosts never deadlock.
  await client.query(`SELECT id FROM ${s}.messages WHERE id = ANY ($1::text[]) ORDER BY id FOR UPDATE`, [sorted]);
  const changed = (await loadMessages(client, s, sorted)).filter((message) => {
    let mine = false;
    for (const [leaseId, lease] of message.leases) {
      if (lease.owner !== owner) continue;
      message.leases.delete(leaseId);
      message.entry.leases.delete(lease.domain);
      mine = true;
    }
    return mine;
  });
  await writeLeases(client, s, changed, lifetime);
}
