import { createHash } from 'node:crypto';
import pg from 'pg';
import { expect, it } from 'vitest';
import { isQueueError } from '../src/index';
import { latestSchemaVersion, migratePostgresQueue, openPostgresQueue } from '../src/postgres/index';
import { withClient } from '../src/postgres/transaction';
import { ManualClock } from '../src/testing';
import { describePostgres, freshSchema, postgresUrl, sql } from './postgres-setup';

const minute = 60_000;
const mib = 1024 * 1024;
/** The test server's connection string naming its sessions `name` (`application_name`), so that a test can end its own. */
const withName = (name: string) => `${postgresUrl}${postgresUrl!.includes('?') ? '&' : '?'}application_name=${name}`;

describePostgres('PostgreSQL queue', () => {
  it('streams a 200 MiB body in and out with never more than a few chunks of it in memory', async () => {
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema: freshSchema() });
    const total = 200 * mib;
    const sent = createHash('sha256');
    let peak = 0;
    const sample = () => {
      const { arrayBuffers, heapUsed } = process.memoryUsage();
      peak = Math.max(peak, arrayBuffers + heapUsed);
    };
    const baseline = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;
    async function* body(): AsyncIterable<Buffer> {
      // A different 1 MiB piece each time, so that neither side can keep one buffer and reuse it.
      for (let n = 0; n < total / mib; n += 1) {
        const piece = Buffer.alloc(mib, n % 251);
        piece.writeUInt32BE(n, 0);
        sent.update(piece);
        sample();
        yield piece;
      }
    }
    const { id, size } = await queue.enqueue({ sender: 'big@o.test', recipients: ['r@x.test'] }, body());
    expect(size).toBe(total);
    const received = createHash('sha256');
    let length = 0;
    for await (const chunk of await queue.openBody(id)) {
      received.update(chunk);
      length += chunk.byteLength;
      sample();
    }
    expect(length).toBe(total);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    // The body whole would be 200 MiB more; what is measured is a few 1 MiB pieces and 256 KiB
    // chunks (hex-decoded on the way out) plus the garbage the collector has not reclaimed yet.
    expect(peak - baseline).toBeLessThan(total / 2);
    await queue.close();
  }, 180_000);

  it('creates its schema with numbered migrations, once, and refuses a schema newer than it knows', async () => {
    const schema = freshSchema();
    const options = { connectionString: postgresUrl!, schema };
    expect(await migratePostgresQueue(options)).toEqual({ schema, from: 0, to: latestSchemaVersion });
    expect(await migratePostgresQueue(options)).toEqual({ schema, from: latestSchemaVersion, to: latestSchemaVersion });
    const versions = await sql(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    expect(versions.rows.map((row) => row.version)).toEqual([1, 2, 3]);
    // A newer @homing/queue migrated it: this one must not touch it.
    await sql(`INSERT INTO "${schema}".schema_migrations (version, description) VALUES ($1, 'from the future')`, [
      latestSchemaVersion + 1,
    ]);
    const refused = await openPostgresQueue(options).catch((error) => error);
    expect(isQueueError(refused, 'SCHEMA_TOO_NEW')).toBe(true);
    expect(refused.message).toContain(`version ${latestSchemaVersion + 1}`);
    expect(isQueueError(await migratePostgresQueue(options).catch((error) => error), 'SCHEMA_TOO_NEW')).toBe(true);
    const bad = await openPostgresQueue({ ...options, schema: 'x"; DROP TABLE y; --' }).catch((error) => error);
    expect(isQueueError(bad, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('answers 451 4.3.0 (STORAGE_UNAVAILABLE) when the database cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const error = await openPostgresQueue({
      connectionString: 'postgres://postgres@127.0.0.1:1/homing_test',
      schema: freshSchema(),
    }).catch((e) => e);
    expect(isQueueError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect(error.reply).toMatchObject({ code: 451, enhanced: '4.3.0' });
  });

  it('survives the server dropping its connections: the next enqueue opens a new one', async () => {
    const name = freshSchema();
    const queue = await openPostgresQueue({ connectionString: withName(name), schema: name });
    const first = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('one'));
    const killed = await sql(
      // This queue's connections only: the other files' tests run at the same time on the same server.
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [name],
    );
    expect(killed.rows.length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await queue.enqueue({ sender: 's@o.test', recipients: ['b@x.test'] }, Buffer.from('two'));
    expect((await queue.list()).map((m) => m.id)).toEqual([first.id, second.id]);
    await queue.close();
  });

  it('fails only the call whose connection the server drops while its statement runs, and goes on', async () => {
    const name = freshSchema();
    const queue = await openPostgresQueue({ connectionString: withName(name), schema: name });
    await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('one'));
    // Another session holds the messages table: the claim's first statement waits for it on the server.
    const holder = new pg.Client({ connectionString: postgresUrl });
    await holder.connect();
    await holder.query(`BEGIN; LOCK TABLE "${name}".messages IN ACCESS EXCLUSIVE MODE`);
    const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const claim = queue.claim().catch((error) => error);
    let waiting: number[] = [];
    for (let i = 0; i < 100 && waiting.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const found = await sql('SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [holderPid]);
      waiting = found.rows.map((row) => row.pid);
    }
    expect(waiting).toHaveLength(1);
    // The server ends that session (a restart, an administrator): the FATAL error arrives while the statement runs.
    await sql('SELECT pg_terminate_backend($1)', [waiting[0]]);
    const failed = await claim;
    expect(isQueueError(failed, 'STORAGE_UNAVAILABLE')).toBe(true);
    await holder.query('ROLLBACK');
    await holder.end();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await queue.claim()).map((c) => c.recipients[0]!.address)).toEqual(['a@x.test']);
    await queue.close();
  });

  it('does not crash when the server drops a connection checked out between two statements', async () => {
    const name = freshSchema();
    const pool = new pg.Pool({ connectionString: withName(name), max: 1 });
    pool.on('error', () => undefined);
    // node-postgres emits the FATAL error that arrives with no statement running as an 'error' event
    // on the client; the pool listens only on idle ones, and an event nobody listens to is thrown.
    const failed = await withClient(pool, 'testing', async (client) => {
      const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await sql('SELECT pg_terminate_backend($1)', [pid]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.query('SELECT 1');
    }).catch((error) => error);
    expect(isQueueError(failed, 'STORAGE_UNAVAILABLE')).toBe(true);
    // The broken connection was not handed back: the next caller gets a new one.
    expect((await withClient(pool, 'testing', (client) => client.query('SELECT 2 AS n'))).rows[0].n).toBe(2);
    await pool.end();
  });

  it('keeps working while the server drops its connections again and again under load: nothing acknowledged lost, nothing settled kept', async () => {
    const name = freshSchema();
    const queue = await openPostgresQueue({ connectionString: withName(name), schema: name, poolSize: 6 });
    const acknowledged: string[] = [];
    const settled = new Set<string>();
    const uncertain = new Set<string>();
    let unavailable = 0;
    let running = true;
    const lane = async (n: number) => {
      for (let i = 0; running; i += 1) {
        try {
          if (i % 2 === 0) {
            acknowledged.push(
              (await queue.enqueue({ sender: 's@o.test', recipients: [`r${n}@x.test`] }, Buffer.from(`m${i}`))).id,
            );
          } else {
            for (const claim of await queue.claim({ limit: 2, leaseMs: 60 * minute })) {
              const outcomes = claim.recipients.map((r) => ({ recipient: r.address, status: 'delivered' as const }));
              // A settle whose answer was lost may have committed: neither kept nor known settled.
              uncertain.add(claim.id);
              await queue.settle(claim.leaseId, outcomes);
              uncertain.delete(claim.id);
              settled.add(claim.id);
            }
          }
        } catch (error) {
          if (!isQueueError(error, 'STORAGE_UNAVAILABLE')) throw error;
          unavailable += 1;
        }
      }
    };
    const lanes = Array.from({ length: 8 }, (_, n) => lane(n));
    // Every 30 ms for 1.5 s, whatever each connection is doing then: a statement, a transaction
    // between two statements, or idle in the pool.
    for (let round = 0; round < 50; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      await sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
    }
    running = false;
    await Promise.all(lanes);
    expect(unavailable).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(settled.size).toBeGreaterThan(0);
    const listed = new Set((await queue.list()).map((m) => m.id));
    // Every acknowledged message is still queued, or was settled; none that a settle confirmed is.
    expect(acknowledged.filter((id) => !listed.has(id) && !settled.has(id) && !uncertain.has(id))).toEqual([]);
    expect([...settled].filter((id) => listed.has(id))).toEqual([]);
    await queue.close();
  }, 60_000);

  it('commits concurrent enqueues together, and one the database refuses fails alone', async () => {
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema: freshSchema() });
    // PostgreSQL's jsonb cannot hold U+0000: that message's insert fails, and with it its batch.
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        queue.enqueue(
          { sender: 's@o.test', recipients: [`r${i}@x.test`], attributes: { note: i === 7 ? 'bad\u0000' : 'ok' } },
          Buffer.from(`m${i}`),
        ),
      ),
    );
    const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    expect(refused).toEqual([7]);
    expect(isQueueError((results[7] as PromiseRejectedResult).reason, 'STORAGE_UNAVAILABLE')).toBe(true);
    const listed = await queue.list();
    expect(listed.length).toBe(19);
    // One order, by seq, with every acknowledged message in it.
    const ids = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
    expect(new Set(listed.map((m) => m.id))).toEqual(new Set(ids));
    await queue.close();
  });

  it('commits concurrent settles of different messages together, and one the database refuses fails alone', async () => {
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema: freshSchema() });
    for (let i = 0; i < 16; i += 1) {
      await queue.enqueue({ sender: 's@o.test', recipients: [`r${i}@x.test`] }, Buffer.from(`m${i}`));
    }
    const claims = await queue.claim();
    const results = await Promise.allSettled(
      claims.map((claim, i) =>
        queue.settle(claim.leaseId, [{ recipient: claim.recipients[0]!.address, status: 'failed' }], {
          // The bounce of settle 5 carries U+0000, which jsonb refuses: that settle fails, alone.
          enqueue: [
            {
              envelope: { sender: '', recipients: ['s@o.test'], attributes: { n: i === 5 ? '\u0000' : 'x' } },
              body: 'b',
            },
          ],
        }),
      ),
    );
    expect(results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []))).toEqual([5]);
    const left = await queue.list();
    // 15 bounces, and the message whose settle failed, untouched.
    expect(left.filter((m) => m.sender === '').length).toBe(15);
    expect(left.filter((m) => m.sender !== '').map((m) => m.id)).toEqual([claims[5]!.id]);
    expect((await queue.inspect(claims[5]!.id))?.recipients[0]?.state).toBe('pending');
    await queue.close();
  });

  it('hands two hosts claiming at once disjoint work, all of it, and each settle once', async () => {
    const schema = freshSchema();
    const options = { connectionString: postgresUrl!, schema, poolSize: 8 };
    const [a, b] = [await openPostgresQueue(options), await openPostgresQueue(options)];
    const ids = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        a.enqueue({ sender: 's@o.test', recipients: [`r${i}@one.test`, `r${i}@two.test`] }, Buffer.from(`m${i}`)),
      ),
    );
    const taken = new Map<string, string>();
    const duplicates: string[] = [];
    const work = async (queue: typeof a, name: string) => {
      for (;;) {
        const claims = (await Promise.all([queue.claim({ limit: 7 }), queue.claim({ limit: 5 })])).flat();
        if (claims.length === 0) return;
        for (const claim of claims) {
          const key = `${claim.id} ${claim.domain}`;
          if (taken.has(key)) duplicates.push(`${key} (${taken.get(key)} and ${name})`);
          taken.set(key, name);
        }
        await Promise.all(
          claims.map((claim) =>
            queue.settle(
              claim.leaseId,
              claim.recipients.map((r) => ({ recipient: r.address, status: 'delivered' as const })),
            ),
          ),
        );
      }
    };
    await Promise.all([work(a, 'a'), work(b, 'b')]);
    expect(duplicates).toEqual([]);
    expect(taken.size).toBe(ids.length * 2);
    const byHost = [...taken.values()];
    // Both took part: SKIP LOCKED let each take rows the other was not holding.
    expect(byHost.filter((host) => host === 'a').length).toBeGreaterThan(0);
    expect(byHost.filter((host) => host === 'b').length).toBeGreaterThan(0);
    expect(await a.list()).toEqual([]);
    // Completed messages take every row of theirs with them.
    for (const table of ['messages', 'recipients', 'body_chunks']) {
      expect((await sql(`SELECT count(*)::integer AS n FROM "${schema}".${table}`)).rows[0].n, table).toBe(0);
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('writes the domains of a claim filter into its SQL quoted: quotes and backslashes are only text', async () => {
    const schema = freshSchema();
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema });
    await queue.enqueue({ sender: 's@o.test', recipients: ['r@x.test', 'r@y.test'] }, Buffer.from('m'));
    const hostile = ["x.test' OR true --", "x.test\\' OR true --", "'); DROP TABLE " + schema + '.messages; --'];
    expect(await queue.claim({ domain: hostile[0] })).toEqual([]);
    expect(await queue.claim({ domain: hostile[2] })).toEqual([]);
    // Not excluded: none of them is the domain x.test.
    const claims = await queue.claim({ exceptDomains: [...hostile, 'y.test'] });
    expect(claims.map((claim) => claim.domain)).toEqual(['x.test']);
    expect((await sql(`SELECT count(*)::integer AS n FROM "${schema}".messages`)).rows[0].n).toBe(1);
    await queue.close();
  });

  it('grants leases on domains with quotes, backslashes, commas and braces as written (the grant sends them as JSON in a literal)', async () => {
    const schema = freshSchema();
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema });
    const domains = ["o'b.test", 'back\\slash.test', 'a"q.test', 'c,d{e}.test', 'null'];
    const { id } = await queue.enqueue(
      { sender: 's@o.test', recipients: domains.map((domain) => `r@${domain}`) },
      Buffer.from('m'),
    );
    const claims = await queue.claim();
    expect(claims.map((claim) => claim.domain).sort()).toEqual([...domains].sort());
    const leases = await sql(
      `SELECT l->>'domain' AS domain FROM "${schema}".messages m, jsonb_array_elements(m.leases) l
       WHERE m.id = $1 ORDER BY 1`,
      [id],
    );
    expect(leases.rows.map((row) => row.domain)).toEqual([...domains].sort());
    for (const claim of claims) {
      await queue.settle(claim.leaseId, [{ recipient: claim.recipients[0]!.address, status: 'delivered' }]);
    }
    expect(await queue.inspect(id)).toBeUndefined();
    await queue.close();
  });

  it('counts every settle of the domains of one message made at the same time, once each', async () => {
    const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema: freshSchema(), poolSize: 12 });
    const recipients = Array.from({ length: 12 }, (_, i) => `r@d${i}.test`);
    const { id } = await queue.enqueue({ sender: 's@o.test', recipients }, Buffer.from('m'));
    const claims = await queue.claim();
    expect(claims.length).toBe(12);
    // Each settle reads the message, then writes only if nobody changed it in between: most race.
    const results = await Promise.all(
      claims.map((claim, i) =>
        queue.settle(claim.leaseId, [
          { recipient: claim.recipients[0]!.address, status: i % 2 ? 'delivered' : 'failed' },
        ]),
      ),
    );
    expect(results.filter((r) => r.complete).length).toBe(1);
    expect(results.flatMap((r) => r.failed.map((f) => f.address)).sort()).toEqual(
      recipients.filter((_, i) => i % 2 === 0).sort(),
    );
    expect(await queue.inspect(id)).toBeUndefined();
    await queue.close();
  });

  it("keeps a crashed host's leases until they run out, and gives a closed host's back at once", async () => {
    const schema = freshSchema();
    const clock = new ManualClock();
    const options = { connectionString: postgresUrl!, schema, now: clock.now };
    const crashed = await openPostgresQueue(options);
    const survivor = await openPostgresQueue(options);
    const { id } = await survivor.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
    const [leased] = await crashed.claim({ leaseMs: minute });
    expect(leased?.id).toBe(id);
    // `crashed` never settles nor closes: its lease is all the survivor sees.
    expect(await survivor.claim()).toEqual([]);
    clock.advance(minute);
    const [takenOver] = await survivor.claim({ leaseMs: minute });
    expect(takenOver?.id).toBe(id);
    expect(isQueueError(await crashed.settle(leased!.leaseId, []).catch((e) => e), 'LEASE_LOST')).toBe(true);
    const closing = await openPostgresQueue(options);
    clock.advance(minute);
    const [again] = await closing.claim({ leaseMs: 10 * minute });
    expect(again?.id).toBe(id);
    await closing.close();
    expect((await survivor.claim()).map((c) => c.id)).toEqual([id]);
    await Promise.all([crashed.close(), survivor.close()]);
  });
});
