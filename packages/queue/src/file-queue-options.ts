import type { Logger } from './logger';
import type { RetryScheduleOptions } from './retry-schedule';
import type { SpoolFileSystem } from './spool-file-system';

/** Options of `openFileQueue`; see the README for each default. */
export interface FileQueueOptions extends RetryScheduleOptions {
  /** The spool directory (created if missing). */
  spool: string;
  /**
   * Reads the spool without taking its lock and without writing anything (no recovery moves, no
   * snapshot), beside a live server or not: list, inspect and openBody work, every other method
   * rejects `READ_ONLY`. The view is the state on disk at open.
   */
  readOnly?: boolean;
  /** `false` turns the delay warning off; default 4 h. */
  delayWarningMs?: number | false;
  /** Default lease of a claim, ms (10 min). */
  leaseMs?: number;
  /** Most body bytes in one commit batch file (4 MiB). */
  maxBatchBytes?: number;
  /** Bodies up to this size are gathered in memory; bigger ones stream to their own file (256 KiB). */
  inlineBodyBytes?: number;
  /** The journal is compacted past this size (16 MiB). */
  journalBytes?: number;
  /** The clock: milliseconds since the epoch (default `Date.now`), for tests. */
  now?: () => number;
  random?: () => number;
  logger?: Logger;
  fileSystem?: SpoolFileSystem;
}
