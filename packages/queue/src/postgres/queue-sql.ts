// The statements of the PostgreSQL backend that are longer than a line, for schema `s` (quoted).
// Times are milliseconds since the epoch, passed in by the host: the queue's clock is its `now`.
import { QueueError } from '../queue-error';
import { loadLockedSql, messageColumns } from './message-rows';

const open = `('pending', 'deferred')`;

/** Where the claim's first statement leaves the ids it locked for the second (transaction-local). */
const claimed = 'homing_queue.claimed';

/**
 * The start of a claim, sent as one simple query (one round trip): BEGIN (a lease needs no WAL
 * flush, see `claim`), the lock of the candidates, which returns their message rows, in the
 * walk's order, and leaves their ids for the next statements (a transaction-local setting); then
 * those statements, each its own (so that, under READ COMMITTED, they see every change committed
 * by the locks' previous holders): their recipients (`loadLockedSql`; the leases are in the rows). The rows
 * the lock returns are the rows' latest versions: a row changed since the statement's snapshot is
 * read again when it is locked, and its condition checked again (PostgreSQL's "EvalPlanQual"),
 * and they are sorted again by their values as locked. The candidates: messages with claimable
 * work at `now`, earliest due first, then acceptance order, locked with SKIP LOCKED so that hosts
 * claiming at once take disjoint messages without waiting on each other. `due_at` is exact (the
 * earliest time a recipient is due and its domain's lease over, refiled by every change), so
 * without a domain filter the claim is a plain walk of the `messages_due` index from its start:
 * its plan needs no statistics (a freshly filled table, never analyzed, made the planner
 * hash-join 20,000 rows and sort them: 14 ms a claim). The values are inlined (a simple query has
 * no parameters): numbers checked here, and domains quoted by `literal` (node-postgres'
 * `escapeLiteral`).
 */
export function claimStartSql(
  s: string,
  now: number,
  limit: number,
  filter: { expiredBefore: number; only: string | null; except: readonly string[] } | undefined,
  literal: (text: string) => string,
): string {
  // The ids set once, by a one-time filter (not a column: it would repeat them in every row).
  const ids = `string_to_array(current_setting('${claimed}', true), ',')`;
  return `BEGIN; SET LOCAL synchronous_commit = off;
    WITH picked AS (${claimCandidatesSql(s, now, limit, filter, literal, messageColumns)})
    SELECT p.* FROM picked p
    WHERE (SELECT set_config('${claimed}', coalesce(string_agg(id, ','), ''), true) FROM picked) IS NOT NULL
    ORDER BY p.due_at, p.seq;
    ${loadLockedSql(s, ids)}`;
}

/** The candidates of a claim (see `claimStartSql`), locked: their `columns`. */
export function claimCandidatesSql(
  s: string,
  now: number,
  limit: number,
  filter: { expiredBefore: number; only: string | null; except: readonly string[] } | undefined,
  literal: (text: string) => string,
  columns = 'm.id',
): string {
  for (const value of [now, limit, filter?.expiredBefore ?? 0]) {
    if (!Number.isSafeInteger(value)) {
      throw new QueueError('INVALID_ARGUMENT', `a claim needs whole numbers (limit, clock), not ${value}`);
    }
  }
  return `SELECT ${columns} FROM ${s}.messages m
    WHERE m.due_at <= ${now}${filter === undefined ? '' : ` AND ${wantedSql(s, now, filter, literal)}`}
    ORDER BY m.due_at, m.seq
    LIMIT ${limit}
    FOR UPDATE OF m SKIP LOCKED`;
}

/**
 * With a domain filter, the messages with a recipient of a wanted domain due at `now` and not under
 * a running lease; past its lifetime (created at or before `expiredBefore`) a message is handed out
 * whole, held or not. The `OFFSET 0` keeps the EXISTS a per-row filter of the index walk: the
 * planner may not turn it into a join that reads every row first.
 */
function wantedSql(
  s: string,
  now: number,
  filter: { expiredBefore: number; only: string | null; except: readonly string[] },
  literal: (text: string) => string,
): string {
  const only = filter.only === null ? '' : ` AND r.domain = ${literal(filter.only)}`;
  const except =
    filter.except.length === 0 ? '' : ` AND r.domain NOT IN (${filter.except.map((d) => literal(d)).join(', ')})`;
  return `EXISTS (
      SELECT 1 FROM ${s}.recipients r
      WHERE r.message_id = m.id AND r.state IN ${open}${only}${except}
        AND (m.created_at <= ${filter.expiredBefore} OR (NOT m.held AND r.next_attempt_at <= ${now}))
        AND NOT EXISTS (
          SELECT 1 FROM jsonb_array_elements(m.leases) l
          WHERE l->>'domain' = r.domain AND (l->>'lease_until')::bigint > ${now}
        )
      OFFSET 0
    )`;
}

/**
 * Grants leases and files the new due times: $1 the ids of the messages, $2 a JSON array of
 * `{ id, due, leases }`, each message's due time and its whole lease list (`leases`: the leases it
 * kept, an expired one of a domain replaced by the new one; null for none). The same statement
 * writes the lease lists of `renewLease` and of a closing queue's given-back leases.
 */
export function grantLeasesStatement(s: string): { name: string; text: string } {
  return { name: `homing_queue_grant_${s.slice(1, -1)}`, text: grantLeasesSql(s) };
}

/**
 * The grant prepared in SQL, once per session (`PREPARE`, outside a transaction: it lasts as long
 * as the session), so that a claim sends `EXECUTE` with its COMMIT in one simple query: one round
 * trip, the statement not planned again, its parameters an array text (`arrayLiteral`) and a JSON text.
 */
export function prepareGrantSql(s: string): string {
  return `PREPARE ${grantLeasesStatement(s).name} (text[], jsonb) AS ${grantLeasesSql(s)}`;
}

/** The grant's `EXECUTE` (see `prepareGrantSql`): `arrays` its parameters, quoted by `literal`. */
export function executeGrantSql(s: string, arrays: readonly string[], literal: (text: string) => string): string {
  return `EXECUTE ${grantLeasesStatement(s).name} (${arrays.map(literal).join(', ')})`;
}

/** `grantLeasesStatement`'s text (`= ANY` walks the primary key; a join alone could read every row). */
export function grantLeasesSql(s: string): string {
  return `UPDATE ${s}.messages m SET due_at = d.due, leases = d.leases, version = m.version + 1
    FROM jsonb_to_recordset($2::jsonb) AS d(id text, due bigint, leases jsonb)
    WHERE m.id = ANY ($1::text[]) AND m.id = d.id`;
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

const plainElement = /^[\w.@-]+$/;

/**
 * `values` as the text of a PostgreSQL array (`{a,b}`), for a parameter cast to an array type:
 * one string joined at once, where node-postgres' own conversion builds it element by element,
 * each quoted by two regular expressions (a tenth of the claim and settle's allocations). Numbers
 * (whole) and booleans as they print, null as NULL, strings of letters, digits and `_.@-` as they
 * are (ids, lease ids, most domains), any other string quoted, its `"` and `\` escaped.
 */
export function arrayLiteral(values: readonly (string | number | boolean | null)[]): string {
  let plain = true;
  for (const value of values) {
    if (typeof value === 'string' ? !plainElement.test(value) || /^null$/i.test(value) : value === null) {
      plain = false;
      break;
    }
  }
  if (plain) return `{${values.join(',')}}`;
  return `{${values
    .map((value) =>
      value === null ? 'NULL' : typeof value === 'string' ? `"${value.replace(/["\\]/g, '\\$&')}"` : String(value),
    )
    .join(',')}}`;
}
