import { join } from 'node:path';
import type { Logger } from '../logger';
import type { RecoveryReport } from '../queue';
import type { SpoolFileSystem } from '../spool-file-system';
import type { BatchStore } from './batch-store';
import { replayJournal } from './journal';
import { entryFrom, isFinal, type MessageEntry } from './message-entry';

/** The state rebuilt from the spool on open. */
export interface RecoveredSpool {
  entries: Map<string, MessageEntry>;
  /** batch -> ids of its messages still live */
  live: Map<string, Set<string>>;
  /** batch -> ids of its messages already gone (kept in snapshots until the batch file is deleted) */
  gone: Map<string, Set<string>>;
  lastSequence: number;
  /** The highest message sequence handed out so far (batches and journal). */
  highestSeq: number;
  report: RecoveryReport;
}

async function listOrEmpty(fs: SpoolFileSystem, path: string, readOnly: boolean): Promise<string[]> {
  try {
    return await fs.readdir(path);
  } catch (error) {
    // A spool never opened for writing has no subdirectories yet: an empty queue to a reader.
    if (readOnly && (error as { code?: string } | null)?.code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Recovery on open: empty tmp/ (nothing there was acknowledged), read every batch trailer
 * (never a body), replay the journal, and move damaged files to corrupt/ instead of failing.
 * `readOnly` changes nothing on disk (tmp/ kept, damage reported but left in place) and
 * tolerates a live writer: a batch file deleted while it is read is a message that just left.
 */
export async function recoverSpool(
  fs: SpoolFileSystem,
  spool: string,
  store: BatchStore,
  logger: Logger | undefined,
  readOnly = false,
): Promise<RecoveredSpool> {
  const report: RecoveryReport = { removedTemporary: 0, corrupt: [], messages: 0 };
  if (!readOnly) {
    for (const name of ['tmp', 'data', 'journal', 'corrupt']) await fs.mkdir(join(spool, name));
    for (const name of await fs.readdir(join(spool, 'tmp'))) {
      await fs.unlink(join(spool, 'tmp', name));
      report.removedTemporary += 1;
    }
  } else {
    await fs.readdir(spool); // a missing spool is an error, not an empty queue
  }
  const journalExists = (await listOrEmpty(fs, spool, readOnly)).includes('journal');
  const replay = journalExists
    ? await replayJournal(fs, join(spool, 'journal'))
    : { states: new Map(), damaged: [], lastSequence: 0, confirmed: new Set<string>(), highestSeq: 0 };
  for (const damage of replay.damaged) {
    let reason = `${damage.reason}; left in place (opened read-only)`;
    if (!readOnly) {
      const copy = `journal-${Date.now()}-${damage.file}`;
      const copied = await fs.copyFile(join(spool, 'journal', damage.file), join(spool, 'corrupt', copy)).then(
        () => true,
        (error: unknown) => {
          logger?.error({ file: damage.file, err: error }, 'queue could not copy a damaged journal file');
          return false;
        },
      );
      reason = `${damage.reason}; ${copied ? `copied to corrupt/${copy}` : 'could not be copied to corrupt/'}`;
    }
    report.corrupt.push({ file: `journal/${damage.file}`, reason });
    logger?.error({ file: damage.file, reason: damage.reason }, 'queue journal damaged');
  }
  let highestSeq = replay.highestSeq;
  const entries = new Map<string, MessageEntry>();
  const live = new Map<string, Set<string>>();
  const gone = new Map<string, Set<string>>();
  const batches = (await listOrEmpty(fs, join(spool, 'data'), readOnly))
    .filter((name) => name.endsWith('.batch'))
    .sort();
  const found: MessageEntry[] = [];
  for (const name of batches) {
    const batch = name.slice(0, -'.batch'.length);
    let messages: Awaited<ReturnType<BatchStore['readBatch']>>;
    try {
      messages = await store.readBatch(batch);
    } catch (error) {
      if (readOnly && (error as { code?: string } | null)?.code === 'ENOENT') continue; // its messages just left
      const reason = error instanceof Error ? error.message : String(error);
      if (readOnly) {
        report.corrupt.push({ file: `data/${name}`, reason: `${reason}; left in place (opened read-only)` });
      } else {
        await fs.rename(store.path(batch), join(spool, 'corrupt', name));
        report.corrupt.push({ file: `data/${name}`, reason: `${reason}; moved to corrupt/${name}` });
      }
      logger?.error({ file: name, reason }, 'queue batch file damaged');
      continue;
    }
    const liveIds = new Set<string>();
    const goneIds = new Set<string>();
    for (const stored of messages) {
      if (stored.seq > highestSeq) highestSeq = stored.seq;
      const record = replay.states.get(stored.id);
      // A settle's follow-up exists only once the settle's journal record (naming it) is durable.
      const unconfirmed = stored.c === 1 && record === undefined && !replay.confirmed.has(stored.id);
      const entry = entryFrom(stored, batch, record);
      if (unconfirmed) entry.journaled = false;
      else if (stored.c === 1) entry.journaled = true; // snapshots must keep confirming it
      if (unconfirmed || record?.done === 1 || entry.rcpts.every((r) => isFinal(r.state))) {
        goneIds.add(stored.id);
      } else {
        liveIds.add(stored.id);
        found.push(entry);
      }
    }
    if (liveIds.size === 0) {
      if (!readOnly) await store.delete(batch).catch(() => undefined);
      continue;
    }
    live.set(batch, liveIds);
    if (goneIds.size > 0) gone.set(batch, goneIds);
  }
  // Acceptance order; messages stored before sequences existed (seq 0) by creation time, then batch name.
  found.sort((a, b) => a.stored.seq - b.stored.seq || a.stored.createdAt - b.stored.createdAt);
  for (const entry of found) entries.set(entry.stored.id, entry);
  report.messages = entries.size;
  return { entries, live, gone, lastSequence: replay.lastSequence, highestSeq, report };
}
