// The sweep of `bodyDirectory`: a host SIGKILLed in the middle of an enqueue (its body file
// written and fsynced, its statement not committed) leaves a file no row names; a queue opened
// later removes it once it is older than the margin, and never removes the file of an enqueue
// that is still in progress on another host, nor a file a message names, nor a file not its own.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isQueueError } from '../src/index';
import { migratePostgresQueue, openPostgresQueue } from '../src/postgres/index';
import { ManualClock } from '../src/testing';
import { describePostgres, freshSchema, postgresUrl } from './postgres-setup';

const hour = 3_600_000;
const child = new URL('./postgres-body-sweep-child.ts', import.meta.url).pathname;
let directory = '';

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'homing-body-sweep-'));
});
afterAll(async () => {
  if (directory !== '') await rm(directory, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The backends waiting for a lock on an INSERT into the schema's messages. */
async function waitingInserts(client: pg.Client, schema: string): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
    [`%INSERT INTO "${schema}".messages%`],
  );
  return rows.map((row) => row.pid);
}

const files = async (dir: string) => (await readdir(dir)).sort();

describePostgres('PostgreSQL queue body directory sweep', () => {
  it('removes the body file of an enqueue killed before its COMMIT, and keeps a live enqueue`s file', async () => {
    const schema = freshSchema();
    const dir = await mkdtemp(join(directory, 'bodies-'));
    const options = { connectionString: postgresUrl!, schema, bodyDirectory: dir };
    await migratePostgresQueue(options);
    // A message committed long ago: its file is old, and named.
    const earlier = await openPostgresQueue(options);
    const kept = await earlier.enqueue({ sender: 's@o.test', recipients: ['r@x.test'] }, Buffer.from('kept'));
    await earlier.close();
    const old = (Date.now() - 2 * hour) / 1000;
    await utimes(join(dir, `${kept.id}.eml`), old, old);

    // Inserts into the messages table wait while this session holds it: every enqueue stops
    // between its fsynced body file and its statement.
    const holder = new pg.Client({ connectionString: postgresUrl });
    // Another session looks: inside a transaction pg_stat_activity is a snapshot taken once.
    const watcher = new pg.Client({ connectionString: postgresUrl });
    await Promise.all([holder.connect(), watcher.connect()]);
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE "${schema}".messages IN SHARE MODE`);
    const live = await openPostgresQueue(options);
    try {
      const host = spawn(process.execPath, ['--import', 'tsx', child, postgresUrl!, schema, dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      host.stdout.on('data', (chunk) => {
        out += chunk;
      });
      const crashed = await until('the child host to write its body file', async () => {
        const pids = await waitingInserts(watcher, schema);
        const names = (await files(dir)).filter((name) => name !== `${kept.id}.eml`);
        return pids.length === 1 && names.length === 1 ? { pid: pids[0]!, name: names[0]! } : undefined;
      });
      host.kill('SIGKILL');
      await new Promise((resolve) => host.once('exit', resolve));
      expect(out).toMatch(/^READY \d+\n$/);
      // Its session dies with it (as a crashed host's connection does) before the insert ran.
      await watcher.query('SELECT pg_terminate_backend($1)', [crashed.pid]);
      await until('the killed host`s session to end', async () =>
        (await waitingInserts(watcher, schema)).length === 0 ? true : undefined,
      );

      // Another host's enqueue in progress, stopped at the same point: its file is young.
      const inProgress = live.enqueue({ sender: 's@o.test', recipients: ['r@x.test'] }, Buffer.from('in progress'));
      const liveName = await until('the live enqueue to write its body file', async () => {
        const names = (await files(dir)).filter((name) => name !== `${kept.id}.eml` && name !== crashed.name);
        return (await waitingInserts(watcher, schema)).length === 1 && names.length === 1 ? names[0] : undefined;
      });
      // The crashed host's file, aged past the margin; a half-received body of another crash;
      // a file of someone else's, old too.
      await utimes(join(dir, crashed.name), old, old);
      await writeFile(join(dir, '0123456789abcdef.spill'), 'half');
      await utimes(join(dir, '0123456789abcdef.spill'), old, old);
      await writeFile(join(dir, 'README.txt'), 'not the queue`s');
      await utimes(join(dir, 'README.txt'), old, old);
      // A young orphan (its enqueue may be running on a host we cannot see): kept too.
      await writeFile(join(dir, 'fedcba9876543210.eml'), 'young');

      const sweeper = await openPostgresQueue(options);
      try {
        expect(await sweeper.sweepBodyFiles()).toBe(2);
        expect(await sweeper.sweepBodyFiles()).toBe(0);
      } finally {
        await sweeper.close();
      }
      expect(await files(dir)).toEqual([`${kept.id}.eml`, liveName, 'README.txt', 'fedcba9876543210.eml'].sort());

      await holder.query('COMMIT');
      const { id } = await inProgress;
      expect(`${id}.eml`).toBe(liveName);
      const body: Buffer[] = [];
      for await (const chunk of await live.openBody(id)) body.push(chunk);
      expect(Buffer.concat(body).toString()).toBe('in progress');
      expect((await live.list()).map((m) => m.id).sort()).toEqual([kept.id, id].sort());
    } finally {
      await holder.end().catch(() => undefined);
      await watcher.end().catch(() => undefined);
      await live.close();
    }
  }, 60_000);

  it('refuses an enqueue whose body file waited longer than the sweep allows, and removes its file', async () => {
    const schema = freshSchema();
    const dir = await mkdtemp(join(directory, 'bodies-'));
    const clock = new ManualClock();
    const options = { connectionString: postgresUrl!, schema, bodyDirectory: dir };
    await migratePostgresQueue(options);
    const queue = await openPostgresQueue({ ...options, now: clock.now, poolSize: 1 });
    const holder = new pg.Client({ connectionString: postgresUrl });
    await holder.connect();
    try {
      await queue.sweepBodyFiles();
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".messages IN ACCESS EXCLUSIVE MODE`);
      // The queue's only connection waits in this list; the enqueue's batch waits for it.
      const listing = queue.list();
      const enqueued = queue
        .enqueue({ sender: 's@o.test', recipients: ['r@x.test'] }, Buffer.from('late'))
        .catch((error: unknown) => error);
      await until('the body file', async () => ((await files(dir)).length === 1 ? true : undefined));
      clock.advance(16 * 60_000);
      await holder.query('COMMIT');
      await listing;
      const error = await enqueued;
      expect(isQueueError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toContain('longer than an enqueue may take');
      expect(await files(dir)).toEqual([]);
      expect(await queue.list()).toEqual([]);
      // In time, the same enqueue goes through.
      const { id } = await queue.enqueue({ sender: 's@o.test', recipients: ['r@x.test'] }, Buffer.from('in time'));
      expect(await files(dir)).toEqual([`${id}.eml`]);
    } finally {
      await holder.end().catch(() => undefined);
      await queue.close();
    }
  });
});
