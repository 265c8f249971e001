import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import { QueueError } from '../queue-error';

/**
 * Turns a database failure (refused connection, server shutting down, a lost connection) into the
 * error an SMTP server answers 451 4.3.0 to; a QueueError passes through.
 */
export function databaseError(error: unknown, what: string): QueueError {
  if (error instanceof QueueError) return error;
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new QueueError(
    'STORAGE_UNAVAILABLE',
    `queue database failed while ${what}${code ? ` (${code})` : ''}: ${message}`,
    { cause: error },
  );
}

/** Runs `work` on one pooled connection. */
export async function withClient<T>(pool: Pool, what: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw databaseError(error, what);
  }
  // node-postgres emits a connection the server ends (a restart, a terminated session) as 'error'
  // events on its client, with no statement running too (between two statements of a transaction);
  // the pool listens only on idle clients, and an event nobody listens to would crash the process.
  // Here it marks the connection lost: the running or the next statement fails on its own.
  let lost = false;
  const onError = () => {
    lost = true;
  };
  client.on('error', onError);
  let broken = false;
  try {
    return await work(client);
  } catch (error) {
    broken = !(error instanceof QueueError);
    throw databaseError(error, what);
  } finally {
    // A lost connection may still emit its 'end' as an error: the listener stays, on a client that is dropped.
    if (!lost) client.removeListener('error', onError);
    // A connection that failed mid-way is dropped, not handed to the next caller.
    client.release(broken || lost);
  }
}

/**
 * Runs `work` in a transaction (READ COMMITTED, the server's synchronous_commit forced on for the
 * pool): resolves once COMMIT returned, which is when the WAL record is flushed. When COMMIT itself
 * fails the outcome is unknown, and the caller sees STORAGE_UNAVAILABLE: an SMTP client then
 * retries, which at worst queues a message twice, never loses one.
 */
export async function withTransaction<T>(
  pool: Pool,
  what: string,
  ...args:
    | [work: (client: PoolClient) => Promise<T>]
    | [options: { durable: false }, work: (client: PoolClient) => Promise<T>]
): Promise<T> {
  const work = args.length === 1 ? args[0] : args[1];
  // One round trip either way; `durable: false` resolves at COMMIT without waiting for the WAL flush.
  const begin = args.length === 1 ? 'BEGIN' : 'BEGIN; SET LOCAL synchronous_commit = off';
  return withClient(pool, what, async (client) => {
    await client.query(begin);
    let result: T;
    try {
      result = await work(client);
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The connection is gone; the server rolls back on its own.
      }
      throw error;
    }
    await client.query('COMMIT');
    return result;
  });
}

/**
 * A transaction started by `start(client)` (after `prelude`, when given), statements sent as one simple query (rows as arrays),
 * the first of them BEGIN; then the `end` that `work` gives for their results, statements run one
 * after the other (a prepared one has a round trip of its own), the last of them COMMIT. ROLLBACK
 * when anything failed.
 */
export async function withStartedTransaction<T>(
  pool: Pool,
  what: string,
  start: (client: PoolClient) => string,
  work: (client: PoolClient, results: QueryResult<unknown[]>[]) => { result: T; end: (QueryConfig | string)[] },
  // Run on the connection first, outside the transaction (a session's PREPARE, once).
  prelude?: (client: PoolClient) => Promise<void>,
): Promise<T> {
  return withClient(pool, what, async (client) => {
    await prelude?.(client);
    let result: T;
    try {
      const results = (await client.query({ text: start(client), rowMode: 'array' })) as unknown as QueryResult<
        unknown[]
      >[];
      const decided = work(client, results);
      result = decided.result;
      for (const statement of decided.end) await client.query(statement);
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The connection is gone; the server rolls back on its own.
      }
      throw error;
    }
    return result;
  });
}

/**
 * A statement as node-postgres runs it: prepared once per connection under its name when it has
 * one (its text is fixed), so that each run is planned from the cached plan, not parsed again.
 */
export function named(statement: { name?: string; text: string; values: unknown[] }): QueryConfig {
  return statement.name === undefined
    ? { text: statement.text, values: statement.values }
    : { name: statement.name, text: statement.text, values: statement.values };
}
