import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileQueue } from '../src/index';
import { runQueueConformance } from '../src/testing';

const spools: string[] = [];
afterAll(async () => {
  for (const spool of spools) await rm(spool, { recursive: true, force: true });
});

runQueueConformance({ describe, it, expect }, 'file backend', async ({ now, random }) => {
  const spool = await mkdtemp(join(tmpdir(), 'homing-queue-'));
  spools.push(spool);
  const queue = await openFileQueue({ spool, now, random });
  return {
    queue,
    reopen: async () => {
      await queue.close();
      return openFileQueue({ spool, now, random });
    },
  };
});
