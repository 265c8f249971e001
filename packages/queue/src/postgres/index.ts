// Public API of @homing/queue/postgres: the PostgreSQL backend, exported by name.

/**
 * The PostgreSQL backend (several hosts, one queue; `pg` is an optional peer dependency):
 * - `openPostgresQueue(options)`: connects, creates or migrates the schema, resolves to the queue.
 * - `migratePostgresQueue(options)`: only the migration (`homing queue migrate`): `{ schema, from, to }`.
 * - `PostgresQueue`: the backend of `Queue` that `openPostgresQueue` returns.
 * - `PostgresQueueOptions`: connection string, schema, body directory and chunk size, pool, retry timing, lease, clock, logger.
 * - `MigrationReport`, `latestSchemaVersion`: what a migration did, and the newest schema version known.
 */
export { migratePostgresQueue, openPostgresQueue } from './open-postgres-queue';
export { PostgresQueue } from './postgres-queue';
export type { PostgresQueueOptions } from './postgres-queue-options';
export { latestSchemaVersion, type MigrationReport } from './schema-migrations';
