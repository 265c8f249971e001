import type { PoolClient } from 'pg';
import { domainOf, type MessageEntry, type RecipientEntry, wakeTime } from '../internal/message-entry';
import type { RecipientState } from '../queue';

/** A message as loaded from the tables: the file backend's entry shape, plus its leases. */
export interface LoadedMessage {
  entry: MessageEntry;
  /** lease id -> the lease's row. */
  leases: Map<string, LeaseRow>;
  bodyFile: string | null;
  /** The message row's version when it was loaded. */
  version: number;
  /** Its `due_at` when it was loaded. */
  dueAt: number;
}

/** One lease, as the message row's `leases` (a JSON array) holds it. */
export interface LeaseRow {
  domain: string;
  lease_id: string;
  lease_until: number;
  expired: boolean;
  owner: string;
}

interface RecipientRow {
  position: number;
  address: string;
  domain: string;
  state: RecipientState;
  attempts: number;
  next_attempt_at: number;
  reply: string | null;
  expired: boolean;
}

interface MessageRow {
  id: string;
  seq: string;
  sender: string;
  attributes: Record<string, string>;
  size: string;
  created_at: string;
  held: boolean;
  delay_warned: boolean;
  body_file: string | null;
  version: number;
  due_at: string;
  rcpts: RecipientRow[];
  leases: LeaseRow[] | null;
}

/**
 * Loads messages with their recipients and leases in one statement, in the order of `ids`
 * (missing ones left out). Call it after locking the messages, in a statement of its own: under
 * READ COMMITTED it then sees every change committed by the lock's previous holders.
 */
export async function loadMessages(
  client: Pick<PoolClient, 'query'>,
  s: string,
  ids: readonly string[],
): Promise<LoadedMessage[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query<MessageRow>({
    // Prepared once per connection: its text is fixed.
    name: `homing_queue_load_${s.slice(1, -1)}`,
    text: loadSql(s, '$1::text[]'),
    values: [ids],
  });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row === undefined ? [] : [loadedOf(row)];
  });
}

/** The statement that loads the messages whose ids `ids` (an SQL array expression) gives. */
function loadSql(s: string, ids: string): string {
  return `SELECT m.id, m.seq, m.sender, m.attributes, m.size, m.created_at, m.held, m.delay_warned, m.body_file, m.version, m.due_at,
       (SELECT json_agg(r ORDER BY r.position) FROM ${s}.recipients r WHERE r.message_id = m.id) AS rcpts, m.leases
     FROM ${s}.messages m WHERE m.id = ANY (${ids})`;
}

/** The columns of a message row a claim reads, in the order `grantClaims` takes them. */
export const messageColumns =
  'm.id, m.seq, m.sender, m.attributes, m.size, m.created_at, m.held, m.delay_warned, m.body_file, m.version, m.due_at, m.leases';

/**
 * The statement that loads, without building JSON, the recipients of the messages whose ids `ids`
 * (an SQL array expression) gives (their leases are in the message rows). For messages this
 * transaction holds locked: no writer changes them meanwhile (every change of a message's rows
 * takes its row first). On 64 messages it takes less than half the time of the `json_agg` of `loadSql`.
 */
export function loadLockedSql(s: string, ids: string): string {
  return `SELECT r.message_id, r.position, r.address, r.domain, r.state, r.attempts, r.next_attempt_at, r.reply, r.expired
     FROM ${s}.recipients r WHERE r.message_id = ANY (${ids})`;
}

/** The `leases` column's value for `leases`: a JSON array, or null when there is none. */
export function leasesJson(leases: Iterable<LeaseRow>): string | null {
  const list = [...leases];
  return list.length === 0 ? null : JSON.stringify(list);
}

/**
 * The fields of a leased message that a settle needs, as this instance's claim left it (kept from
 * the claim to the settle, so kept small: no envelope, no attributes, no maps).
 */
export interface KnownMessage {
  id: string;
  createdAt: number;
  held: boolean;
  warned: boolean;
  bodyFile: string | null;
  /** The message row's version once the claim's grant is committed. */
  version: number;
  /** In position order. */
  rcpts: RecipientEntry[];
  /** At most one per domain. */
  leases: LeaseRow[];
}

/**
 * A known message as the loaded message a settle decides on. Only what a settle reads is filled
 * in: its envelope (sender, recipients' list, attributes, size) is left empty.
 */
export function loadedOfKnown(known: KnownMessage): LoadedMessage {
  const leases = new Map<string, LeaseRow>();
  const byDomain = new Map<string, string>();
  for (const lease of known.leases) {
    leases.set(lease.lease_id, lease);
    byDomain.set(lease.domain, lease.lease_id);
  }
  const entry: MessageEntry = {
    stored: {
      id: known.id,
      sender: '',
      recipients: [],
      attributes: {},
      createdAt: known.createdAt,
      seq: 0,
      offset: 0,
      length: 0,
      crc: 0,
    },
    batch: '',
    held: known.held,
    warned: known.warned,
    rcpts: known.rcpts,
    leases: byDomain,
    journaled: true,
    version: 0,
    lock: settled,
  };
  // The due time is not read by a settle (it writes its own).
  return { entry, leases, bodyFile: known.bodyFile, version: known.version, dueAt: 0 };
}

/** The lock of an entry nobody waits on (the file backend's per-message chain; unused here). */
const settled = Promise.resolve();

function loadedOf(row: MessageRow): LoadedMessage {
  const createdAt = Number(row.created_at);
  const rcpts = (row.rcpts ?? []).map((r): RecipientEntry => {
    const entry: RecipientEntry = {
      address: r.address,
      domain: r.domain,
      state: r.state,
      attempts: r.attempts,
      next: Number(r.next_attempt_at),
    };
    if (r.reply !== null) entry.reply = r.reply;
    if (r.expired) entry.expired = true;
    return entry;
  });
  const leases = new Map<string, LeaseRow>();
  const byDomain = new Map<string, string>();
  for (const lease of row.leases ?? []) {
    const parsed = { ...lease, lease_until: Number(lease.lease_until) };
    leases.set(lease.lease_id, parsed);
    byDomain.set(lease.domain, lease.lease_id);
  }
  const entry: MessageEntry = {
    stored: {
      id: row.id,
      sender: row.sender,
      recipients: rcpts.map((r) => r.address),
      attributes: row.attributes,
      createdAt,
      seq: Number(row.seq),
      offset: 0,
      length: Number(row.size),
      crc: 0,
    },
    batch: '',
    held: row.held,
    warned: row.delay_warned,
    rcpts,
    leases: byDomain,
    journaled: true,
    version: 0,
    lock: settled,
  };
  return { entry, leases, bodyFile: row.body_file, version: row.version, dueAt: Number(row.due_at) };
}

/** The `due_at` to store: the file backend's wake time (lease ends included); far future when nothing is open. */
export function dueAtOf(loaded: LoadedMessage, lifetimeMs: number): number {
  const at = wakeTime(
    loaded.entry,
    loaded.entry.stored.createdAt + lifetimeMs,
    (leaseId) => loaded.leases.get(leaseId)?.lease_until ?? 0,
  );
  return at ?? Number.MAX_SAFE_INTEGER;
}

/** The recipients of a new message as the arrays `insertMessageSql` takes. */
export function recipientArrays(recipients: readonly string[]): [string[], string[]] {
  return [[...recipients], recipients.map(domainOf)];
}

/**
 * One statement that inserts a message, its recipients and (when `$9` is not null) its body as
 * chunk 0: a single statement is a transaction of its own, so an inline enqueue is one round trip.
 * Parameters: id, sender, attributes, size, created_at, body_file, addresses[], domains[], chunk.
 */
export function insertMessageSql(s: string): string {
  return `WITH m AS (
      INSERT INTO ${s}.messages (id, sender, attributes, size, created_at, due_at, body_file)
      VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING seq
    ), r AS (
      INSERT INTO ${s}.recipients (message_id, position, address, domain, state, attempts, next_attempt_at)
      SELECT $1, x.p - 1, x.a, x.d, 'pending', 0, $5 FROM unnest($7::text[], $8::text[]) WITH ORDINALITY AS x(a, d, p)
    ), b AS (
      INSERT INTO ${s}.body_chunks (message_id, n, data) SELECT $1, 0, $9::bytea WHERE $9::bytea IS NOT NULL
    )
    SELECT seq FROM m`;
}
