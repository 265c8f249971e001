import type { Pool } from 'pg';
import { QueueError } from '../queue-error';
import { statementTimeoutMs } from './body-sweep';
import { PostgresQueue } from './postgres-queue';
import type { PostgresQueueOptions } from './postgres-queue-options';
import { type MigrationReport, migrateSchema } from './schema-migrations';
import { databaseError, withClient } from './transaction';

type ConnectionOptions = Pick<PostgresQueueOptions, 'connectionString' | 'poolSize' | 'connectTimeoutMs' | 'logger'>;

/** `pg` is an optional peer dependency: loaded only here, with a clear error when it is missing. */
async function createPool(options: ConnectionOptions, statementTimeoutMs?: number): Promise<Pool> {
  if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
    throw new QueueError('INVALID_ARGUMENT', 'openPostgresQueue needs a connectionString (postgres://user@host/db)');
  }
  let pg: typeof import('pg');
  try {
    const loaded = (await import('pg')) as typeof import('pg') & { default?: typeof import('pg') };
    pg = loaded.default ?? loaded;
  } catch (error) {
    throw new QueueError(
      'INVALID_ARGUMENT',
      'the PostgreSQL queue needs the pg package: npm install pg (an optional peer dependency of @homing/queue)',
      { cause: error },
    );
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 20,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    // Durable at COMMIT whatever the server's default: the 250 is sent only after the WAL flush.
    // With bodies in a shared directory, no statement may outlast what the sweep of that
    // directory allows an enqueue (see body-sweep.ts).
    options: `-c synchronous_commit=on${statementTimeoutMs === undefined ? '' : ` -c statement_timeout=${statementTimeoutMs}`}`,
  });
  // An idle connection that the server drops (a restart) must not crash the process: the next
  // query opens a new one, or fails STORAGE_UNAVAILABLE while the server is away.
  pool.on('error', (error) => options.logger?.warn({ err: error }, 'queue database connection lost'));
  return pool;
}

/**
 * Creates or migrates the queue's schema to the version this package knows (numbered migrations,
 * one transaction, under an advisory lock); rejects SCHEMA_TOO_NEW for a newer one.
 */
export async function migratePostgresQueue(
  options: ConnectionOptions & Pick<PostgresQueueOptions, 'schema'>,
): Promise<MigrationReport> {
  const pool = await createPool(options);
  try {
    return await withClient(pool, 'migrating the queue schema', (client) =>
      migrateSchema(client, options.schema ?? 'homing_queue'),
    );
  } finally {
    await pool.end();
  }
}

/** Opens the PostgreSQL queue: connects, creates or migrates its schema, and counts what is queued. */
export async function openPostgresQueue(options: PostgresQueueOptions): Promise<PostgresQueue> {
  const pool = await createPool(options, options.bodyDirectory === undefined ? undefined : statementTimeoutMs);
  try {
    const queue = new PostgresQueue(pool, options);
    const report = await withClient(pool, 'migrating the queue schema', (client) =>
      migrateSchema(client, options.schema ?? 'homing_queue'),
    );
    if (report.from !== report.to) options.logger?.info({ ...report }, 'queue schema migrated');
    await queue.open();
    return queue;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw databaseError(error, 'opening the queue');
  }
}
