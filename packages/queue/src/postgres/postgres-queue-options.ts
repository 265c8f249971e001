import type { Logger } from '../logger';
import type { RetryScheduleOptions } from '../retry-schedule';

/**
 * Options of `openPostgresQueue`; the scheduling ones are the file backend's. Every host sharing
 * one queue must use the same scheduling options and keep its clock in sync (NTP): due times and
 * lease ends are written by each host's clock.
 */
export interface PostgresQueueOptions extends RetryScheduleOptions {
  /** `postgres://user:password@host:port/database` (libpq's URI form, as node-postgres reads it). */
  connectionString: string;
  /** The schema holding the queue's tables, created if missing (default `homing_queue`). */
  schema?: string;
  /**
   * Bodies go to files in this directory, shared by every host (NFS, CephFS...), instead of the
   * database; each is fsynced (file and directory) before the envelope's COMMIT.
   */
  bodyDirectory?: string;
  /** Bodies are stored in `bytea` rows of this many bytes (256 KiB); the most one read or write holds. */
  bodyChunkBytes?: number;
  /** Where a body larger than one chunk waits while it arrives, before its transaction (os.tmpdir()). */
  temporaryDirectory?: string;
  /** Most connections this host opens (20). */
  poolSize?: number;
  /** How long to wait for a connection before failing `STORAGE_UNAVAILABLE` (10 s). */
  connectTimeoutMs?: number;
  /** `false` turns the delay warning off; default 4 h. */
  delayWarningMs?: number | false;
  /** Default lease of a claim, ms (10 min). */
  leaseMs?: number;
  /** The clock: milliseconds since the epoch (default `Date.now`), for tests. */
  now?: () => number;
  random?: () => number;
  logger?: Logger;
}
