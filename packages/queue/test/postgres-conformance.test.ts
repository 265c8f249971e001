import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openPostgresQueue } from '../src/postgres/index';
import { runQueueConformance } from '../src/testing';
import { describePostgres, freshSchema, postgresUrl } from './postgres-setup';

const directories: string[] = [];
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

// The same suite as the file backend, each case on a schema of its own.
runQueueConformance({ describe: describePostgres, it, expect }, 'PostgreSQL backend', async ({ now, random }) => {
  const schema = freshSchema();
  const open = () => openPostgresQueue({ connectionString: postgresUrl!, schema, now, random, poolSize: 4 });
  const queue = await open();
  return {
    queue,
    reopen: async () => {
      await queue.close();
      return open();
    },
  };
});

runQueueConformance(
  { describe: describePostgres, it, expect },
  'PostgreSQL backend, bodies in a shared directory',
  async ({ now, random }) => {
    const schema = freshSchema();
    const bodyDirectory = await mkdtemp(join(tmpdir(), 'homing-pg-bodies-'));
    directories.push(bodyDirectory);
    const open = () =>
      openPostgresQueue({ connectionString: postgresUrl!, schema, now, random, poolSize: 4, bodyDirectory });
    const queue = await open();
    return {
      queue,
      reopen: async () => {
        await queue.close();
        return open();
      },
    };
  },
);
