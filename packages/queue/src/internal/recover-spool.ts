import { join } from 'node:path';
import type { RecoveryReport } from '../queue';
import type { SpoolFileSystem } from '../spool-file-system';
import type { BatchStore } from './batch-store';
import { replayJournal } from './journal';
import { entryFrom, isFinal, type MessageEntry } from './message-entry';

/** A minimal pino-compatible logger. */
export interface QueueLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

/** The state rebuilt from the spool on open. */
export interface RecoveredSpool {
  entries: Map<string, MessageEntry>;
  /** batch -> ids of its messages still live */
  live: Map<string, Set<string>>;
  /** batch -> ids of its messages already gone (kept in snapshots until the batch file is deleted) */
  gone: Map<string, Set<string>>;
  lastSequence: number;
  report: RecoveryReport;
}

/**
 * Recovery on open: empty tmp/ (nothing there was acknowledged), read every batch trailer
 * (never a body), replay the journal, and move damaged files to corrupt/ instead of failing.
 */
export async function recoverSpool(
  fs: SpoolFileSystem,
  spool: string,
  store: BatchStore,
  logger: QueueLogger | undefined,
): Promise<RecoveredSpool> {
  for (const name of ['tmp', 'data', 'journal', 'corrupt']) await fs.mkdir(join(spool, name));
  const report: RecoveryReport = { removedTemporary: 0, corrupt: [], messages: 0 };
  for (const name of await fs.readdir(join(spool, 'tmp'))) {
    await fs.unlink(join(spool, 'tmp', name));
    report.removedTemporary += 1;
  }
  const replay = await replayJournal(fs, join(spool, 'journal'));
  for (const damage of replay.damaged) {
    const copy = `journal-${Date.now()}-${damage.file}`;
    await fs.copyFile(join(spool, 'journal', damage.file), join(spool, 'corrupt', copy)).catch(() => undefined);
    report.corrupt.push({ file: `journal/${damage.file}`, reason: `${damage.reason}; copied to corrupt/${copy}` });
    logger?.error({ file: damage.file, reason: damage.reason }, 'queue journal damaged');
  }
  const entries = new Map<string, MessageEntry>();
  const live = new Map<string, Set<string>>();
  const gone = new Map<string, Set<string>>();
  const batches = (await fs.readdir(join(spool, 'data'))).filter((name) => name.endsWith('.batch')).sort();
  const found: MessageEntry[] = [];
  for (const name of batches) {
    const batch = name.slice(0, -'.batch'.length);
    let messages: Awaited<ReturnType<BatchStore['readBatch']>>;
    try {
      messages = await store.readBatch(batch);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await fs.rename(store.path(batch), join(spool, 'corrupt', name));
      report.corrupt.push({ file: `data/${name}`, reason: `${reason}; moved to corrupt/${name}` });
      logger?.error({ file: name, reason }, 'queue batch file damaged');
      continue;
    }
    const liveIds = new Set<string>();
    const goneIds = new Set<string>();
    for (const stored of messages) {
      const record = replay.states.get(stored.id);
      const entry = entryFrom(stored, batch, record);
      if (record?.done === 1 || entry.rcpts.every((r) => isFinal(r.state))) {
        goneIds.add(stored.id);
      } else {
        liveIds.add(stored.id);
        found.push(entry);
      }
    }
    if (liveIds.size === 0) {
      await store.delete(batch).catch(() => undefined);
      continue;
    }
    live.set(batch, liveIds);
    if (goneIds.size > 0) gone.set(batch, goneIds);
  }
  // Oldest first, so list and claim see the queue in arrival order.
  found.sort((a, b) => a.stored.createdAt - b.stored.createdAt);
  for (const entry of found) entries.set(entry.stored.id, entry);
  report.messages = entries.size;
  return { entries, live, gone, lastSequence: replay.lastSequence, report };
}
