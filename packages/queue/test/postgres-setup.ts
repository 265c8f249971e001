// Where the PostgreSQL tests find their server: HOMING_TEST_POSTGRES, a connection string that
// .ci/postgres.sh exports (a throw-away cluster on loopback). Unset outside CI, the tests are
// skipped with the reason printed; unset in CI (CI=true), they fail.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe } from 'vitest';

/** The connection string of the test server, or undefined (then every PostgreSQL test is skipped). */
export const postgresUrl = process.env.HOMING_TEST_POSTGRES;

if (postgresUrl === undefined || postgresUrl === '') {
  if (process.env.CI === 'true') {
    throw new Error('HOMING_TEST_POSTGRES is not set in CI: .ci/run starts PostgreSQL with .ci/postgres.sh');
  }
  console.warn(
    'PostgreSQL queue tests skipped: HOMING_TEST_POSTGRES is not set (eval "$(bash .ci/postgres.sh start)" to run them)',
  );
}

/** `describe`, or `describe.skip` when there is no server to test against. */
export const describePostgres: (name: string, body: () => void) => void = postgresUrl ? describe : describe.skip;

const schemas: string[] = [];
afterAll(async () => {
  if (!postgresUrl || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
});

/** A fresh schema name for one queue, dropped when the file's tests are done. */
export function freshSchema(): string {
  const schema = `homing_test_${randomBytes(6).toString('hex')}`;
  schemas.push(schema);
  return schema;
}

/** Runs one statement on the test server (to look under the queue, or to age its schema). */
export async function sql(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
