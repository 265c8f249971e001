// The statements of the PostgreSQL backend that are longer than a line, for schema `s` (quoted).
// Times are milliseconds since the epoch, passed in by the host: the queue's clock is its `now`.

const open = `('pending', 'deferred')`;

/**
 * The messages with claimable work at $1 (now), earliest due first, then acceptance order, locked
 * with SKIP LOCKED so that hosts claiming at once take disjoint messages without waiting on each
 * other; $2: most messages. `due_at` is exact (the earliest time a recipient is due and its
 * domain's lease over, refiled by every change), so without a domain filter the claim is a plain
 * walk of the `messages_due` index from its start: the plan needs no statistics (a freshly filled
 * table, never analyzed, made the planner hash-join all 20,000 rows and sort them: 14 ms a claim).
 */
export function claimCandidatesSql(s: string): string {
  return `SELECT m.id FROM ${s}.messages m
    WHERE m.due_at <= $1
    ORDER BY m.due_at, m.seq
    LIMIT $2
    FOR UPDATE OF m SKIP LOCKED`;
}

/**
 * The claim of a domain filter: the same walk, keeping the messages with a recipient of a wanted
 * domain due at $1 and not under a running lease. $2: created_at at or before which a message is
 * past its lifetime (handed out whole, held or not); $3: the only domain wanted, or null; $4:
 * domains not wanted; $5: most messages. The `OFFSET 0` keeps the EXISTS a per-row filter of the
 * index walk: the planner may not turn it into a join that reads every row first.
 */
export function claimFilteredCandidatesSql(s: string): string {
  return `SELECT m.id FROM ${s}.messages m
    WHERE m.due_at <= $1
      AND EXISTS (
        SELECT 1 FROM ${s}.recipients r
        WHERE r.message_id = m.id AND r.state IN ${open}
          AND ($3::text IS NULL OR r.domain = $3)
          AND r.domain <> ALL ($4::text[])
          AND (m.created_at <= $2 OR (NOT m.held AND r.next_attempt_at <= $1))
          AND NOT EXISTS (
            SELECT 1 FROM ${s}.leases l WHERE l.message_id = m.id AND l.domain = r.domain AND l.lease_until > $1
          )
        OFFSET 0
      )
    ORDER BY m.due_at, m.seq
    LIMIT $5
    FOR UPDATE OF m SKIP LOCKED`;
}

/**
 * Grants leases (replacing expired ones of the same message and domain) and files the new due
 * times; prepared under its name (its text is fixed).
 */
export function grantLeasesStatement(s: string): { name: string; text: string } {
  return { name: `homing_queue_grant_${s.slice(1, -1)}`, text: grantLeasesSql(s) };
}

function grantLeasesSql(s: string): string {
  return `WITH granted AS (
      INSERT INTO ${s}.leases (message_id, domain, lease_id, lease_until, expired, owner)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[])
      ON CONFLICT (message_id, domain) DO UPDATE SET lease_id = excluded.lease_id,
        lease_until = excluded.lease_until, expired = excluded.expired, owner = excluded.owner
    )
    UPDATE ${s}.messages m SET due_at = d.due, version = m.version + 1 FROM unnest($7::text[], $8::bigint[]) AS d(id, due) WHERE m.id = d.id`;
}

/** Files new due times: $1 ids, $2 due times. */
export function updateDueSql(s: string): string {
  return `UPDATE ${s}.messages m SET due_at = d.due, version = m.version + 1 FROM unnest($1::text[], $2::bigint[]) AS d(id, due) WHERE m.id = d.id`;
}

/** The messages `list` shows, in acceptance order: $1 sender, $2 recipient, $3 domain, $4 state or 'held', $5 limit. */
export function listSql(s: string): string {
  const having = (condition: string) =>
    `EXISTS (SELECT 1 FROM ${s}.recipients r WHERE r.message_id = m.id AND ${condition})`;
  return `SELECT m.id FROM ${s}.messages m
    WHERE ($1::text IS NULL OR lower(m.sender) = $1)
      AND ($2::text IS NULL OR ${having('lower(r.address) = $2')})
      AND ($3::text IS NULL OR ${having('r.domain = $3')})
      AND ($4::text IS NULL OR ($4 = 'held' AND m.held) OR ($4 <> 'held' AND ${having('r.state = $4')}))
    ORDER BY m.seq
    LIMIT $5`;
}

/** The messages (one, $1, or all when null) with an open recipient due after $2, locked in id order. */
export function rescheduleTargetsSql(s: string): string {
  return `SELECT m.id FROM ${s}.messages m
    WHERE ($1::text IS NULL OR m.id = $1)
      AND EXISTS (
        SELECT 1 FROM ${s}.recipients r
        WHERE r.message_id = m.id AND r.state IN ${open} AND r.next_attempt_at > $2
      )
    ORDER BY m.id
    FOR UPDATE OF m`;
}

/** Makes the open recipients of messages $1 due at $2. */
export function rescheduleSql(s: string): string {
  return `UPDATE ${s}.recipients SET next_attempt_at = $2
    WHERE message_id = ANY ($1::text[]) AND state IN ${open} AND next_attempt_at > $2`;
}
