import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openFileQueue } from '../src/index';
import { runQueueConformance } from './conformance';

const spools: string[] = [];
afterAll(async () => {
  for (const spool of spools) await rm(spool, { recursive: true, force: true });
});

runQueueConformance('file backend', async ({ clock, random }) => {
  const spool = await mkdtemp(join(tmpdir(), 'homing-queue-'));
  spools.push(spool);
  const queue = await openFileQueue({ spool, clock, random });
  return {
    queue,
    reopen: async () => {
      await queue.close();
      return openFileQueue({ spool, clock, random });
    },
  };
});
