// The sweep of the shared body directory: a host that crashed between writing a body file (durable,
// fsynced) and the COMMIT of its enqueue left a file that no message row names and nothing would
// ever delete. Another host may be in the middle of such an enqueue at this very moment, so a
// file is an orphan only when it is older than any enqueue can take, which the enqueue enforces:
//
//   - the enqueue notes the time before it writes its body file (the file's mtime is after it);
//   - once its statement has its connection, it gives up (STORAGE_UNAVAILABLE, file removed) if
//     more than a quarter of the margin has passed since (`assertBodyFresh`);
//   - the pool's sessions cancel any statement after a quarter of the margin (`statement_timeout`);
//
// so a body file is named by a committed row, or its enqueue has failed, within half the margin
// of its mtime (plus the COMMIT's WAL flush and the 10 s wait for a connection). The other half
// covers the clocks of the hosts and of the file server (mtimes are the server's). Files are
// matched to rows by message id (`<id>.eml`, `<id>.spill`: the primary key), and names the queue
// does not write are left alone.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { QueueError } from '../queue-error';
import type { SpoolFileSystem } from '../spool-file-system';

/** A body file older than this (by its mtime) that no message names is removed (1 h). */
export const orphanBodyMarginMs = 3_600_000;
/** How often a queue with `bodyDirectory` sweeps it, besides at open (30 min). */
export const bodySweepIntervalMs = orphanBodyMarginMs / 2;
/** The most time an enqueue may spend between starting its body file and sending its statement. */
export const bodyFreshMs = orphanBodyMarginMs / 4;
/** Every statement of a pool whose queue has a body directory is cancelled after this (15 min). */
export const statementTimeoutMs = orphanBodyMarginMs / 4;

const ours = /^([0-9a-f]{16})\.(eml|spill)$/;
/** Ids looked up per statement. */
const lookup = 1000;

/** STORAGE_UNAVAILABLE when a body file started at `startedAt` is too old to be committed safely. */
export function assertBodyFresh(startedAt: number | undefined, now: number, margin = bodyFreshMs): void {
  if (startedAt !== undefined && now - startedAt > margin) {
    throw new QueueError(
      'STORAGE_UNAVAILABLE',
      `the message's body file was written ${Math.round((now - startedAt) / 1000)} s ago, longer than an enqueue may take (${margin / 1000} s): a sweep of the body directory may remove it`,
    );
  }
}

/**
 * Removes the files of `directory` named after a message id that are older than `margin` at `now`
 * and whose message is not in the queue; resolves to how many it removed.
 */
export async function sweepBodyFiles(options: {
  pool: Pool;
  s: string;
  directory: string;
  fs: SpoolFileSystem;
  now: number;
  margin?: number;
}): Promise<number> {
  const { pool, s, directory, fs, now } = options;
  const margin = options.margin ?? orphanBodyMarginMs;
  const old: { name: string; id: string }[] = [];
  for (const name of await fs.readdir(directory)) {
    const match = ours.exec(name);
    if (match === null) continue;
    const info = await stat(join(directory, name)).catch(() => undefined);
    // Gone meanwhile (its message settled), or young: maybe an enqueue in progress.
    if (info === undefined || !info.isFile() || now - info.mtimeMs <= margin) continue;
    old.push({ name, id: match[1]! });
  }
  let removed = 0;
  for (let at = 0; at < old.length; at += lookup) {
    const slice = old.slice(at, at + lookup);
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM ${s}.messages WHERE id = ANY ($1::text[])`, [
      slice.map((file) => file.id),
    ]);
    const named = new Set(rows.map((row) => row.id));
    for (const file of slice) {
      if (named.has(file.id)) continue;
      try {
        await fs.unlink(join(directory, file.name));
        removed += 1;
      } catch {
        // Removed by another host's sweep meanwhile.
      }
    }
  }
  if (removed > 0) await fs.syncDirectory(directory);
  return removed;
}

/** Runs the sweep at open and every `bodySweepIntervalMs`, one at a time, and reports each. */
export class BodySweeper {
  private running: Promise<number> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly scheduled: () => Promise<number>,
    private readonly report: (removed: number, error?: unknown) => void,
  ) {}

  start(): void {
    const run = () => {
      // Through a promise: a queue closed meanwhile throws CLOSED, reported like any failure.
      Promise.resolve()
        .then(this.scheduled)
        .then(
          (removed) => {
            if (removed > 0) this.report(removed);
          },
          (error: unknown) => this.report(0, error),
        );
    };
    run();
    this.timer = setInterval(run, bodySweepIntervalMs);
    this.timer.unref();
  }

  /** `work`, unless a sweep is running: then that sweep. */
  sweep(work: () => Promise<number>): Promise<number> {
    this.running ??= work().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
