import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SpoolFile, SpoolFileSystem } from '../spool-file-system';
import { GroupCommit } from './group-commit';

/** A recipient's mutable state as the journal stores it (short keys: the journal is rewritten often). */
export interface JournalRecipient {
  /** state */
  s: 'pending' | 'deferred' | 'delivered' | 'failed';
  /** attempts */
  a: number;
  /** next attempt at */
  n: number;
  /** last reply */
  r?: string;
  /** expired */
  x?: 1;
}

/**
 * The full mutable state of one message; the last record of an id wins. `done` means gone.
 * The record of id '' carries only `q`: a snapshot's high-water mark of message sequences.
 */
export interface JournalRecord {
  id: string;
  done?: 1;
  held?: 1;
  warned?: 1;
  rcpts?: JournalRecipient[];
  /** Follow-up messages (bounces) committed by this record: they exist from this line on. */
  f?: string[];
  /** The highest message sequence handed out when this record was written. */
  q?: number;
}

/** What replaying the journal found. */
export interface JournalReplay {
  states: Map<string, JournalRecord>;
  damaged: { file: string; reason: string }[];
  lastSequence: number;
  /** Follow-up messages committed (`f`) by a record of the last file, even if a later record superseded it. */
  confirmed: Set<string>;
  /** The highest message sequence any record mentions. */
  highestSeq: number;
}

const fileName = (sequence: number) => `${String(sequence).padStart(12, '0')}.log`;

function encodeLine(record: JournalRecord): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function decodeLine(line: string): JournalRecord | undefined {
  const space = line.indexOf(' ');
  if (space !== 8) return undefined;
  const json = line.slice(9);
  if (Number.parseInt(line.slice(0, 8), 16) !== crc32(json)) return undefined;
  try {
    const record = JSON.parse(json) as JournalRecord;
    return typeof record.id === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads every journal file in order; a torn last line (a crash mid-append, never acknowledged) is
 * ignored. A file that vanishes while it is read (a live writer rotated the journal under a
 * read-only reader) restarts the replay, which then finds the newer snapshot.
 */
export async function replayJournal(fs: SpoolFileSystem, directory: string): Promise<JournalReplay> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await replayOnce(fs, directory);
    } catch (error) {
      if ((error as { code?: string } | null)?.code !== 'ENOENT' || attempt >= 10) throw error;
    }
  }
}

async function replayOnce(fs: SpoolFileSystem, directory: string): Promise<JournalReplay> {
  const names = (await fs.readdir(directory)).filter((name) => /^\d{12}\.log$/.test(name)).sort();
  const states = new Map<string, JournalRecord>();
  const damaged: { file: string; reason: string }[] = [];
  const confirmed = new Set<string>();
  let highestSeq = 0;
  for (const [fileIndex, name] of names.entries()) {
    const file = await fs.open(join(directory, name), 'r');
    let text: string;
    try {
      text = (await file.read(await file.size(), 0)).toString('utf8');
    } finally {
      await file.close();
    }
    const lines = text.split('\n');
    const isLastFile = fileIndex === names.length - 1;
    for (const [lineIndex, line] of lines.entries()) {
      if (line === '') continue;
      const record = decodeLine(line);
      if (record !== undefined) {
        if (typeof record.q === 'number' && record.q > highestSeq) highestSeq = record.q;
        // Each file opens with a snapshot that holds a record of every confirmed follow-up, so only
        // the last file's `f` counts: an older one may hold an append that failed and was rejected.
        if (isLastFile && Array.isArray(record.f)) for (const id of record.f) confirmed.add(id);
        if (record.id !== '') states.set(record.id, record);
        continue;
      }
      // The last line of any file may be torn: a crash during an append, or during a failed write
      // after which the journal was rotated. Anything else is damage worth reporting.
      const isTail = lineIndex === lines.length - 1;
      if (!(isTail || (isLastFile && lineIndex === lines.length - 2 && lines[lines.length - 1] === ''))) {
        damaged.push({ file: name, reason: `journal line ${lineIndex + 1} damaged` });
      }
    }
  }
  const last = names.at(-1);
  return {
    states,
    damaged,
    lastSequence: last === undefined ? 0 : Number.parseInt(last, 10),
    confirmed,
    highestSeq,
  };
}

/**
 * The append-only state journal with group commit: records submitted together are written
 * with one write and one fsync. After a failed append, or when the file grows past `maxBytes`,
 * the next flush starts a new file holding a snapshot of the in-memory state.
 */
export class Journal {
  private file: SpoolFile | undefined;
  private sequence: number;
  private bytes = 0;
  private needsRotation = true;
  private readonly commit: GroupCommit<JournalRecord[], undefined>;

  constructor(
    private readonly fs: SpoolFileSystem,
    private readonly directory: string,
    lastSequence: number,
    private readonly maxBytes: number,
    private readonly snapshot: () => JournalRecord[],
  ) {
    this.sequence = lastSequence;
    this.commit = new GroupCommit((batches) => this.flush(batches));
  }

  /** Appends records durably; resolves after the fsync that covers them. */
  append(records: JournalRecord[]): Promise<void> {
    return this.commit.submit(records);
  }

  /** Writes a fresh snapshot file now and removes the older files (used on open). */
  async rotateNow(): Promise<void> {
    await this.commit.submit([]);
  }

  async close(): Promise<void> {
    await this.commit.idle();
    // A failed append (say a failed fsync) may still have left its line in the file, though its
    // caller was told it failed: a snapshot of the state in memory, which never applied it,
    // supersedes it, so that a reopen does not apply a change that was refused.
    if (this.needsRotation && this.file !== undefined) await this.rotate().catch(() => undefined);
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
  }

  private async flush(batches: JournalRecord[][]): Promise<undefined[]> {
    if (this.needsRotation) await this.rotate();
    const text = batches
      .flat()
      .map((record) => encodeLine(record))
      .join('');
    if (text.length > 0) {
      try {
        const data = Buffer.from(text, 'utf8');
        await this.file!.write(data);
        await this.file!.sync();
        this.bytes += data.byteLength;
      } catch (error) {
        // The file may now end with part of a line: never append after it.
        this.needsRotation = true;
        throw error;
      }
      if (this.bytes > this.maxBytes) this.needsRotation = true;
    }
    return batches.map(() => undefined);
  }

  private async rotate(): Promise<void> {
    const next = this.sequence + 1;
    const temporary = join(this.directory, `${fileName(next)}.tmp`);
    const file = await this.fs.open(temporary, 'w');
    try {
      // Taken after an I/O wait, so every append already acknowledged is applied in memory.
      const text = this.snapshot()
        .map((record) => encodeLine(record))
        .join('');
      const data = Buffer.from(text, 'utf8');
      await file.write(data);
      await file.sync();
      await this.fs.rename(temporary, join(this.directory, fileName(next)));
      await this.fs.syncDirectory(this.directory);
      this.bytes = data.byteLength;
    } catch (error) {
      await file.close().catch(() => undefined);
      await this.fs.unlink(temporary).catch(() => undefined);
      throw error;
    }
    const previous = this.file;
    this.file = file;
    this.sequence = next;
    this.needsRotation = false;
    await previous?.close().catch(() => undefined);
    for (const name of await this.fs.readdir(this.directory)) {
      if (/^\d{12}\.log(\.tmp)?$/.test(name) && name !== fileName(next)) {
        await this.fs.unlink(join(this.directory, name)).catch(() => undefined);
      }
    }
  }
}
