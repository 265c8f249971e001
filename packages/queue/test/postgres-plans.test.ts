// The plans of the hot statements on a table the planner knows nothing about (filled, never
// analyzed), 20,000 messages as in the benchmark: each must reach its rows through an index,
// whatever the statistics say (on a few hundred rows a sequential scan is right). A claim that
// hash-joined and sorted every row of a freshly filled queue took 14 ms instead of 0.1.
import pg from 'pg';
import { expect, it } from 'vitest';
import { openPostgresQueue } from '../src/postgres/index';
import { loadMessages } from '../src/postgres/message-rows';
import { claimCandidatesSql, grantLeasesStatement } from '../src/postgres/queue-sql';
import { settleStatement } from '../src/postgres/settle-statement';
import { describePostgres, freshSchema, postgresUrl } from './postgres-setup';

const scans = /Seq Scan on (messages|recipients)|Sort\b/;

describePostgres('PostgreSQL queue plans', () => {
  it('claims, grants and settles through indexes on a filled queue never analyzed', async () => {
    const schema = freshSchema();
    const s = `"${schema}"`;
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema });
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      // Every table the statements read: an analyzed body_chunks (20,000 rows) fails the check below.
      for (const table of ['messages', 'recipients', 'body_chunks']) {
        await client.query(`ALTER TABLE ${s}.${table} SET (autovacuum_enabled = false)`);
      }
      await Promise.all(
        Array.from({ length: 16 }, async (_, lane) => {
          for (let n = 0; n < 1250; n += 1) {
            await queue.enqueue(
              { sender: 's@o.test', recipients: [`r${lane}.${n}@x.test`, 'b@y.test'] },
              Buffer.from('body'),
            );
          }
        }),
      );
      const analyzed = await client.query(
        `SELECT relname FROM pg_stat_user_tables
         WHERE schemaname = $1 AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)`,
        [schema],
      );
      expect(analyzed.rows.map((row) => row.relname)).toEqual([]);
      const explain = async (text: string, values: unknown[] = []) =>
        (await client.query(`EXPLAIN ${text}`, values)).rows.map((row) => row['QUERY PLAN']).join('\n');
      const now = Date.now() + 1000;
      const literal = (text: string) => client.escapeLiteral(text);

      const claim = await explain(claimCandidatesSql(s, now, 64, undefined, literal));
      expect(claim, claim).toContain('Index Scan using messages_due');
      expect(claim, claim).not.toMatch(scans);
      const filtered = await explain(
        claimCandidatesSql(s, now, 64, { expiredBefore: 0, only: null, except: ['y.test'] }, literal),
      );
      expect(filtered, filtered).toContain('Index Scan using messages_due');
      expect(filtered, filtered).not.toMatch(scans);

      // The grant and the settle of the 64 first messages, as the queue would send them.
      const ids = (await client.query(`SELECT id FROM ${s}.messages ORDER BY seq LIMIT 64`)).rows.map((r) => r.id);
      const grant = await explain(grantLeasesStatement(s).text, [
        ids,
        JSON.stringify(
          ids.map((id) => ({
            id,
            due: now,
            leases: [{ domain: 'x.test', lease_id: `${id}.lease`, lease_until: now, expired: false, owner: 'owner' }],
          })),
        ),
      ]);
      expect(grant, grant).not.toMatch(scans);
      const loaded = await loadMessages(client, s, ids);
      const statement = settleStatement(
        s,
        loaded.map((message, i) => ({
          message,
          leaseId: `${message.entry.stored.id}.lease`,
          // Half leave the queue, half stay with one recipient delivered.
          outcome:
            i % 2 === 0
              ? { complete: true as const }
              : {
                  complete: false as const,
                  rcpts: message.entry.rcpts.map((r, n) => (n === 0 ? { ...r, state: 'delivered' as const } : r)),
                  warned: false,
                  dueAt: now,
                  leases: null,
                },
          followUps: [],
          now,
        })),
      );
      const settle = await explain(statement.text, statement.values);
      expect(settle, settle).not.toMatch(scans);
    } finally {
      await client.end();
      await queue.close();
    }
  }, 60_000);
});
