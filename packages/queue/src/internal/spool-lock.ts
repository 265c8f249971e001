import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { QueueError } from '../queue-error';

/**
 * The exclusive lock of a spool directory, without flock (Node has none).
 *
 * The lock is a chain of generations `lock.<n>` in the spool: the file with the highest n says
 * who holds the spool (pid, host, boot id, process start time) or that it was released. To take
 * the spool, a process reads the highest generation; if its holder is alive it is refused
 * (`LOCKED`), otherwise it creates generation n + 1. Creation is a hard link of a fully written
 * temporary file, which fails with EEXIST when the name exists: of several processes that found
 * the same free generation exactly one gets the next one, and a reader never sees half a file.
 * Generations only grow (close writes a "released" generation instead of deleting its own), so
 * the highest one is always present and a takeover can never race with a removal.
 *
 * A holder is taken as dead when it is on this host and its pid is gone, or the pid now belongs
 * to a process started at another time (pid reuse), or the machine rebooted since (boot id). A
 * holder on another host cannot be checked: it stays locked until someone removes the file.
 */
export interface LockOwner {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id where there is one. */
  boot?: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), where there is one. */
  start?: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  released?: true;
}

const generation = /^lock\.(\d{12})$/;
const temporary = /^lock\.tmp\.(\d+)\./;
const nameOf = (n: number) => `lock.${String(n).padStart(12, '0')}`;

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  return readQuietly('/proc/sys/kernel/random/boot_id')?.trim();
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat, where there is one. */
function processStat(pid: number): { state: string; start: string } | undefined {
  const stat = readQuietly(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as { code?: string }).code !== 'ESRCH';
  }
}

/** False when the owner's process can be shown to be gone; true when it is alive or cannot be checked. */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.released) return false;
  if (owner.host !== hostname()) return true;
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return false;
  if (!pidAlive(owner.pid)) return false;
  const stat = processStat(owner.pid);
  if (stat === undefined) return true; // no /proc: the pid is all there is to go by
  // A zombie (killed, not yet reaped by its parent) holds nothing; another start time is pid reuse.
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return owner.start === undefined || stat.start === owner.start;
}

function describeOwner(spool: string, owner: LockOwner, file: string): string {
  const who = owner.pid === process.pid && owner.host === hostname() ? 'this process' : 'another process';
  const remedy =
    owner.host === hostname()
      ? 'close it first'
      : `a holder on another host cannot be checked: if it is gone, remove ${file}`;
  return `the spool ${spool} is in use by ${who}: pid ${owner.pid} on host ${owner.host} since ${owner.since} (lock file ${file}); ${remedy}`;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as LockOwner;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

async function linkGeneration(spool: string, content: LockOwner, n: number): Promise<boolean> {
  const path = join(spool, `lock.tmp.${process.pid}.${randomBytes(6).toString('hex')}`);
  await fs.writeFile(path, JSON.stringify(content));
  try {
    await fs.link(path, join(spool, nameOf(n)));
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.unlink(path).catch(() => undefined);
  }
}

/** A held spool lock; `release` hands the spool on. */
export class SpoolLock {
  private released = false;

  private constructor(
    private readonly spool: string,
    private readonly held: number,
    private readonly owner: LockOwner,
  ) {}

  /** Takes the lock of `spool` (an existing directory) or rejects `LOCKED` naming the holder. */
  static async acquire(spool: string): Promise<SpoolLock> {
    const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    const boot = bootId();
    const start = processStat(process.pid)?.start;
    if (boot !== undefined) owner.boot = boot;
    if (start !== undefined) owner.start = start;
    // Each pass either decides or saw another process move the chain on; a few passes suffice.
    for (let pass = 0; pass < 100; pass += 1) {
      const names = (await fs.readdir(spool)).filter((name) => generation.test(name)).sort();
      const top = names.at(-1);
      let next = 1;
      if (top !== undefined) {
        let text: string;
        try {
          text = await fs.readFile(join(spool, top), 'utf8');
        } catch (error) {
          if ((error as { code?: string }).code === 'ENOENT') continue; // cleaned up under us
          throw error;
        }
        // A file this protocol never wrote (unreadable) holds nothing.
        const current = parseOwner(text);
        if (current !== undefined && ownerAlive(current)) {
          throw new QueueError('LOCKED', describeOwner(spool, current, join(spool, top)));
        }
        next = Number.parseInt(top.slice('lock.'.length), 10) + 1;
      }
      if (!(await linkGeneration(spool, owner, next))) continue;
      const lock = new SpoolLock(spool, next, owner);
      await lock.cleanUp(names);
      return lock;
    }
    throw new QueueError('LOCKED', `the spool ${spool} is being opened by other processes at the same time`);
  }

  /** Writes a "released" generation, so the next opener finds the spool free. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await linkGeneration(this.spool, { ...this.owner, released: true }, this.held + 1);
    await fs.unlink(join(this.spool, nameOf(this.held))).catch(() => undefined);
  }

  /** Removes older generations and temporary files of processes that are gone. */
  private async cleanUp(older: string[]): Promise<void> {
    for (const name of older) await fs.unlink(join(this.spool, name)).catch(() => undefined);
    for (const name of await fs.readdir(this.spool)) {
      const pid = temporary.exec(name)?.[1];
      if (pid !== undefined && !pidAlive(Number(pid))) await fs.unlink(join(this.spool, name)).catch(() => undefined);
    }
  }
}
