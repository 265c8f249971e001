// Upgrading a schema with work in it: a queue at version 1 (messages due, one under a running
// lease of a host that wrote it with the older package, one held) is migrated to the latest
// version, and everything in it keeps working: order, the lease (renewed and settled by its
// lease id, whose index migration 2 dropped, and moved into its message row by migration 3),
// claims, the acceptance order of new messages.
import pg from 'pg';
import { expect, it } from 'vitest';
import { latestSchemaVersion, migratePostgresQueue, openPostgresQueue } from '../src/postgres/index';
import { migrateSchema } from '../src/postgres/schema-migrations';
import { ManualClock } from '../src/testing';
import { describePostgres, freshSchema, postgresUrl, sql } from './postgres-setup';

const minute = 60_000;

describePostgres('PostgreSQL queue migrations', () => {
  it('upgrades a version 1 schema with messages, a running lease and a held message in it', async () => {
    const schema = freshSchema();
    const s = `"${schema}"`;
    const clock = new ManualClock();
    const now = clock.time;
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      expect(await migrateSchema(client as unknown as pg.PoolClient, schema, 1)).toEqual({ schema, from: 0, to: 1 });
    } finally {
      await client.end();
    }
    // As the version 1 code wrote them: a, b (leased until now + 10 min by another host), c (held).
    for (const [id, held, due] of [
      ['aaaa000000000001', false, now],
      ['bbbb000000000002', false, now + 10 * minute],
      ['cccc000000000003', true, now],
    ] as const) {
      await sql(
        `INSERT INTO ${s}.messages (id, sender, attributes, size, created_at, due_at, held) VALUES ($1, 's@o.test', '{}', 5, $2, $3, $4)`,
        [id, now - minute, due, held],
      );
      await sql(`INSERT INTO ${s}.body_chunks (message_id, n, data) VALUES ($1, 0, $2)`, [
        id,
        Buffer.from(`${id[0]}body`),
      ]);
      await sql(
        `INSERT INTO ${s}.recipients (message_id, position, address, domain, state, attempts, next_attempt_at) VALUES ($1, 0, 'r@x.test', 'x.test', 'pending', 0, $2)`,
        [id, now - minute],
      );
    }
    const oldLease = 'bbbb000000000002.0123456789ab';
    await sql(
      `INSERT INTO ${s}.leases (message_id, domain, lease_id, lease_until, expired, owner) VALUES ($1, 'x.test', $2, $3, false, 'old-host')`,
      ['bbbb000000000002', oldLease, now + 10 * minute],
    );

    const options = { connectionString: postgresUrl!, schema };
    expect(await migratePostgresQueue(options)).toEqual({ schema, from: 1, to: latestSchemaVersion });
    const indexes = await sql(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema]);
    expect(indexes.rows.map((row) => row.indexname)).toEqual([
      'body_chunks_pkey',
      'messages_due',
      'messages_pkey',
      'recipients_pkey',
      'schema_migrations_pkey',
    ]);

    // Migration 3: the lease is in its message row, the leases table gone, the ids compared as bytes.
    const moved = await sql(`SELECT id, leases FROM ${s}.messages WHERE leases IS NOT NULL`);
    expect(moved.rows).toEqual([
      {
        id: 'bbbb000000000002',
        leases: [
          { domain: 'x.test', lease_id: oldLease, lease_until: now + 10 * minute, expired: false, owner: 'old-host' },
        ],
      },
    ]);
    const tables = await sql(`SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [schema]);
    expect(tables.rows.map((row) => row.tablename)).toEqual([
      'body_chunks',
      'messages',
      'recipients',
      'schema_migrations',
    ]);
    const collations = await sql(
      `SELECT table_name, column_name, collation_name FROM information_schema.columns
       WHERE table_schema = $1 AND column_name IN ('id', 'message_id', 'domain') ORDER BY 1, 2`,
      [schema],
    );
    expect(collations.rows.map((row) => `${row.table_name}.${row.column_name} ${row.collation_name}`)).toEqual([
      'body_chunks.message_id C',
      'messages.id C',
      'recipients.domain C',
      'recipients.message_id C',
    ]);

    const queue = await openPostgresQueue({ ...options, now: clock.now, random: () => 0.5 });
    let freshId = '';
    try {
      expect(queue.recovery.messages).toBe(3);
      expect((await queue.list()).map((m) => m.id)).toEqual([
        'aaaa000000000001',
        'bbbb000000000002',
        'cccc000000000003',
      ]);
      // The old host's lease still holds b; c is held: only a is claimable.
      const [claim, ...more] = await queue.claim({ limit: 10, leaseMs: 60 * minute });
      expect(more).toEqual([]);
      expect(claim!.id).toBe('aaaa000000000001');
      // Renewed and settled by its lease id, though the lease was written before the upgrade.
      expect(await queue.renewLease(oldLease, 20 * minute)).toBe(now + 20 * minute);
      clock.advance(15 * minute);
      expect(await queue.claim({ limit: 10 })).toEqual([]);
      const settled = await queue.settle(oldLease, [{ recipient: 'r@x.test', status: 'delivered' }]);
      expect(settled.complete).toBe(true);
      const gone = await queue.settle(oldLease, [{ recipient: 'r@x.test', status: 'delivered' }]).catch((e) => e);
      expect(gone.code).toBe('LEASE_LOST');
      // New messages come after the old ones in acceptance order.
      const fresh = await queue.enqueue({ sender: 's@o.test', recipients: ['r@y.test'] }, Buffer.from('new'));
      freshId = fresh.id;
      expect((await queue.list()).map((m) => m.id)).toEqual(['aaaa000000000001', 'cccc000000000003', fresh.id]);
      const body: Buffer[] = [];
      for await (const chunk of await queue.openBody('cccc000000000003')) body.push(chunk);
      expect(Buffer.concat(body).toString()).toBe('cbody');
    } finally {
      await queue.close();
    }
    // Closing gave a's lease back with the owner index gone: claimable at once by another host.
    const other = await openPostgresQueue({ ...options, now: clock.now });
    try {
      const ids = (await other.claim({ limit: 10 })).map((c) => c.id);
      expect(ids.sort()).toEqual(['aaaa000000000001', freshId].sort());
    } finally {
      await other.close();
    }
  });
});
