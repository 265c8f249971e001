import type { PoolClient } from 'pg';
import { QueueError } from '../queue-error';

/** What `migratePostgresQueue` did: the schema version found, and the one it left. */
export interface MigrationReport {
  schema: string;
  from: number;
  to: number;
}

/**
 * The numbered migrations, oldest first; each runs once, in one transaction with its row in
 * `schema_migrations`. Never edit a released one: add the next number.
 * Times are milliseconds since the epoch (`bigint`), written by the hosts' clocks.
 */
const migrations: readonly { version: number; description: string; sql: (s: string) => string }[] = [
  {
    version: 1,
    description: 'messages, recipients, leases and body chunks',
    // No foreign keys: every statement that deletes a message deletes its rows with it, and the
    // referential triggers would cost each enqueue and settle more than the rest of its statement.
    sql: (s) => `
      CREATE TABLE ${s}.messages (
        id text PRIMARY KEY,
        seq bigserial NOT NULL UNIQUE,
        sender text NOT NULL,
        attributes jsonb NOT NULL,
        size bigint NOT NULL,
        created_at bigint NOT NULL,
        held boolean NOT NULL DEFAULT false,
        delay_warned boolean NOT NULL DEFAULT false,
        -- The earliest time the message may have claimable work (a lower bound, never later):
        -- claim walks the index below from the start.
        due_at bigint NOT NULL,
        body_file text,
        -- Bumped by every change of the message, its recipients or its leases: a settle that read
        -- version N writes only if it is still N (optimistic, one statement, no lock held between).
        version integer NOT NULL DEFAULT 0
      );
      CREATE INDEX messages_due ON ${s}.messages (due_at, seq);
      CREATE TABLE ${s}.recipients (
        message_id text NOT NULL,
        position integer NOT NULL,
        address text NOT NULL,
        domain text NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'deferred', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL,
        reply text,
        expired boolean NOT NULL DEFAULT false,
        PRIMARY KEY (message_id, position)
      );
      CREATE TABLE ${s}.leases (
        message_id text NOT NULL,
        domain text NOT NULL,
        lease_id text NOT NULL UNIQUE,
        lease_until bigint NOT NULL,
        expired boolean NOT NULL,
        -- The queue instance that took it: a clean close gives its leases back at once.
        owner text NOT NULL,
        PRIMARY KEY (message_id, domain)
      );
      CREATE INDEX leases_owner ON ${s}.leases (owner);
      CREATE TABLE ${s}.body_chunks (
        message_id text NOT NULL,
        n integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (message_id, n)
      );`,
  },
  {
    version: 2,
    description: 'drop the indexes the hot path paid for and rarely used',
    // Each lease granted inserted into both leases indexes and each message claimed, its row
    // rewritten (`due_at` is indexed), into the `seq` index too: three of the eight index entries
    // a lease cost, at random places (lease ids are random). What used them works without:
    // a renewal finds its lease by message (the primary key's prefix) and lease id, `close`
    // scans the leases (only the work in flight), and `seq` stays unique by its sequence (every
    // insert takes `nextval`; no statement writes it), ordered for claims by `messages_due`.
    sql: (s) => `
      ALTER TABLE ${s}.leases DROP CONSTRAINT IF EXISTS leases_lease_id_key;
      DROP INDEX IF EXISTS ${s}.leases_owner;
      ALTER TABLE ${s}.messages DROP CONSTRAINT IF EXISTS messages_seq_key;`,
  },
  {
    version: 3,
    description: 'leases in the message row; ids compared as bytes',
    // A lease was a row of its own: its grant inserted a row and an index entry (a speculative
    // insertion, ON CONFLICT), each claim read them in a statement of its own, and the settle
    // deleted them, beside the message row the grant and the settle write anyway. Now the
    // message row carries its leases (`leases`, a JSON array of { domain, lease_id, lease_until,
    // expired, owner }, NULL when none), written in the same row version as the due time and the
    // version they change. The ids and domains are compared as bytes (COLLATE "C"): they are
    // ASCII, and under a libc locale (C.UTF-8, en_US...) every index comparison went through
    // strcoll. Existing leases move into their rows.
    sql: (s) => `
      ALTER TABLE ${s}.messages ADD COLUMN leases jsonb;
      UPDATE ${s}.messages m SET leases = l.leases
        FROM (SELECT message_id, jsonb_agg(jsonb_build_object('domain', domain, 'lease_id', lease_id,
                'lease_until', lease_until, 'expired', expired, 'owner', owner)) AS leases
              FROM ${s}.leases GROUP BY message_id) l
        WHERE m.id = l.message_id;
      DROP TABLE ${s}.leases;
      ALTER TABLE ${s}.messages ALTER COLUMN id TYPE text COLLATE "C";
      ALTER TABLE ${s}.recipients ALTER COLUMN message_id TYPE text COLLATE "C",
        ALTER COLUMN domain TYPE text COLLATE "C";
      ALTER TABLE ${s}.body_chunks ALTER COLUMN message_id TYPE text COLLATE "C";`,
  },
];

/** The newest schema version this package knows. */
export const latestSchemaVersion = migrations.at(-1)!.version;

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema name quoted for SQL, or INVALID_ARGUMENT for a name that is not a plain identifier. */
export function quoteSchema(schema: string): string {
  if (!identifier.test(schema)) {
    throw new QueueError(
      'INVALID_ARGUMENT',
      `the queue schema must be a lower-case SQL identifier (a-z, 0-9, _), not ${JSON.stringify(schema)}`,
    );
  }
  return `"${schema}"`;
}

/**
 * Brings `schema` to the latest version in one transaction, under an advisory lock so that hosts
 * starting together do not race; refuses SCHEMA_TOO_NEW when a newer package migrated it already.
 */
export async function migrateSchema(
  client: PoolClient,
  schema: string,
  // Only the tests stop earlier, to upgrade an older schema with data in it.
  target = latestSchemaVersion,
): Promise<MigrationReport> {
  const s = quoteSchema(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`@homing/queue ${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const found = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${s}.schema_migrations`,
    );
    const from = found.rows[0]?.version ?? 0;
    if (from > latestSchemaVersion) {
      throw new QueueError(
        'SCHEMA_TOO_NEW',
        `the queue schema ${schema} is at version ${from}, newer than the ${latestSchemaVersion} this @homing/queue knows: upgrade the package (it never downgrades a schema)`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= from || migration.version > target) continue;
      await client.query(migration.sql(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version, description) VALUES ($1, $2)`, [
        migration.version,
        migration.description,
      ]);
    }
    await client.query('COMMIT');
    return { schema, from, to: Math.max(from, Math.min(target, latestSchemaVersion)) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
