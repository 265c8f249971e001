// The changes made under messages' row locks (FOR UPDATE, waiting for another holder), each
// inside the caller's transaction: the lock, then a fresh read, then the write.
import type { PoolClient } from 'pg';
import { QueueError } from '../queue-error';
import { dueAtOf, type LoadedMessage, loadMessages } from './message-rows';
import { rescheduleSql, rescheduleTargetsSql, updateDueSql } from './queue-sql';

/** Locks message `id` and loads it after the lock: undefined when it is gone. */
export async function lockMessage(client: PoolClient, s: string, id: string): Promise<LoadedMessage | undefined> {
  const locked = await client.query(`SELECT id FROM ${s}.messages WHERE id = $1 FOR UPDATE`, [id]);
  if (locked.rows.length === 0) return undefined;
  return (await loadMessages(client, s, [id]))[0];
}

/** Writes the due times of locked messages, as their recipients and leases now say. */
export async function fileDueTimes(
  client: PoolClient,
  s: string,
  messages: readonly LoadedMessage[],
  lifetime: number,
): Promise<void> {
  if (messages.length === 0) return;
  await client.query(updateDueSql(s), [
    messages.map((m) => m.entry.stored.id),
    messages.map((m) => dueAtOf(m, lifetime)),
  ]);
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
    if (found.rows.length === 0) throw new QueueError('NOT_FOUND', `no message ${id} in the queue`);
  }
  // Locked in id order, so that two reschedules of everything never deadlock.
  const targets = await client.query<{ id: string }>(rescheduleTargetsSql(s), [id ?? null, now]);
  const ids = targets.rows.map((row) => row.id);
  if (ids.length === 0) return 0;
  await client.query(rescheduleSql(s), [ids, now]);
  await fileDueTimes(client, s, await loadMessages(client, s, ids), lifetime);
  return ids.length;
}

/**
 * Ends every lease of `owner` (a queue being closed), so other hosts may take the work at once.
 * The leases are scanned (no index on `owner` since migration 2): they are only the work in flight.
 */
export async function giveLeasesBack(client: PoolClient, s: string, owner: string, lifetime: number): Promise<void> {
  const leased = await client.query<{ message_id: string }>(
    `SELECT DISTINCT message_id FROM ${s}.leases WHERE owner = $1`,
    [owner],
  );
  const ids = leased.rows.map((row) => row.message_id).sort();
  if (ids.length === 0) return;
  await client.query(`SELECT id FROM ${s}.messages WHERE id = ANY ($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
  await client.query(`DELETE FROM ${s}.leases WHERE owner = $1`, [owner]);
  await fileDueTimes(client, s, await loadMessages(client, s, ids), lifetime);
}
