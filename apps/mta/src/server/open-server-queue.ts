// The one place that opens the server's queue: the file spool under `state` (the default), or the
// PostgreSQL queue of the config's `queue: postgres://...`, which several hosts share.
import { type Logger, openFileQueue, type Queue } from '@homing/queue';
import type { Config } from '../config/config-types';

/** How to open the queue; `spool` is used only by the file backend. */
export interface ServerQueueOptions {
  spool: string;
  logger?: Logger;
  /** Only the file backend has a read-only open; PostgreSQL needs none (it has no lock to take). */
  readOnly?: boolean;
}

/** Opens the queue the config names. */
export async function openServerQueue(config: Pick<Config, 'queue'>, options: ServerQueueOptions): Promise<Queue> {
  if (config.queue === undefined) {
    return openFileQueue({ spool: options.spool, logger: options.logger, readOnly: options.readOnly });
  }
  // Loaded only here: a server on the file spool never needs `pg`.
  const { openPostgresQueue } = await import('@homing/queue/postgres');
  return openPostgresQueue({
    connectionString: config.queue.url,
    leaseMs: config.queue.leaseMs,
    logger: options.logger,
  });
}

/** Creates or migrates the PostgreSQL queue's schema (`homing queue migrate`). */
export async function migrateServerQueue(config: Pick<Config, 'queue'>): Promise<{ from: number; to: number }> {
  if (config.queue === undefined) {
    throw new Error('the config has no queue: postgres://... key; the file spool needs no migration');
  }
  const { migratePostgresQueue } = await import('@homing/queue/postgres');
  return migratePostgresQueue({ connectionString: config.queue.url });
}

/** The connection string without its password, for log lines and messages. */
export function describeQueue(config: Pick<Config, 'queue'>, spool: string): string {
  if (config.queue === undefined) return spool;
  return config.queue.url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
