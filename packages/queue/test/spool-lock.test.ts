import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isQueueError, openFileQueue } from '../src/index';

const holderSource = fileURLToPath(new URL('./lock-holder.ts', import.meta.url));
const envelope = { sender: 'a@b.test', recipients: ['x@y.test'] };
let spool = '';
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  if (spool !== '') await rm(spool, { recursive: true, force: true });
});

/** Starts lock-holder.ts on the spool; resolves to its first line ("READY pid" or "LOCKED message"). */
function startHolder(path: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', holderSource, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, line }));
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before a line: ${stderr}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const lockFiles = async () => (await readdir(spool)).filter((name) => name.startsWith('lock.'));

describe('the spool lock', () => {
  it('refuses a second open in the same process with LOCKED naming this process, and lets go on close', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
    const first = await openFileQueue({ spool });
    const error = await openFileQueue({ spool }).catch((e) => e);
    expect(isQueueError(error, 'LOCKED')).toBe(true);
    expect(error.message).toContain(`this process: pid ${process.pid} on host ${hostname()}`);
    expect(error.reply).toMatchObject({ code: 451, enhanced: '4.3.0' });
    // The refused open changed nothing: the first queue still works.
    const { id } = await first.enqueue(envelope, Buffer.from('m'));
    await first.close();
    const second = await openFileQueue({ spool });
    expect((await second.list()).map((m) => m.id)).toEqual([id]);
    await second.close();
    expect(await lockFiles()).toHaveLength(1); // the "released" generation, nothing left over
  });

  it('lets exactly one of many concurrent opens win', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => openFileQueue({ spool })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(isQueueError(r.reason, 'LOCKED')).toBe(true);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openFileQueue>>>).value.close();
  });

  it('refuses an open while another process holds the spool, naming its pid, and takes over once it is SIGKILLed', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
    const { child, line } = await startHolder(spool);
    expect(line).toBe(`READY ${child.pid}`);
    const error = await openFileQueue({ spool }).catch((e) => e);
    expect(isQueueError(error, 'LOCKED')).toBe(true);
    expect(error.message).toContain(`another process: pid ${child.pid} on host ${hostname()}`);
    const other = await startHolder(spool);
    expect(other.line).toMatch(new RegExp(`^LOCKED .*pid ${child.pid} on host`));
    await killed(child);
    // The crashed holder left its lock file; it must not keep the spool locked.
    const queue = await openFileQueue({ spool });
    await queue.enqueue(envelope, Buffer.from('after the crash'));
    await queue.close();
  });

  it('takes over a lock whose pid now belongs to a process started at another time (pid reuse)', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
    await (await openFileQueue({ spool })).close();
    const [released] = await lockFiles();
    const owner = JSON.parse(await readFile(join(spool, released!), 'utf8'));
    // This process's pid, alive, but recorded with another start time: its holder is gone.
    const n = Number(released!.slice('lock.'.length)) + 1;
    const stale = { ...owner, released: undefined, pid: process.pid, start: '1' };
    await writeFile(join(spool, `lock.${String(n).padStart(12, '0')}`), JSON.stringify(stale));
    const queue = await openFileQueue({ spool });
    await queue.close();
  });

  it('takes over a lock whose holder was killed but not yet reaped (a zombie)', async (context) => {
    if (!existsSync('/proc/self/stat')) context.skip('no /proc here: zombies cannot be told from live processes');
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
    // `sleep 0` ends at once, and its parent, replaced by `sleep 5`, never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const pid = Number(
      await new Promise<string>((resolve) => createInterface({ input: parent.stdout! }).once('line', resolve)),
    );
    let stat = '';
    for (let i = 0; i < 100 && !stat.includes(') Z '); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    }
    expect(stat).toContain(') Z ');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    const owner = { pid, host: hostname(), boot, start: fields[19], since: new Date().toISOString() };
    await writeFile(join(spool, 'lock.000000000001'), JSON.stringify(owner));
    const queue = await openFileQueue({ spool });
    await queue.close();
  });

  it('does not take over a lock held on another host, and says how to clear it', async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
    const lock = { pid: 1, host: 'other-host.example', since: '2026-12-01T00:00:00.000Z' };
    await writeFile(join(spool, 'lock.000000000007'), JSON.stringify(lock));
    const error = await openFileQueue({ spool }).catch((e) => e);
    expect(isQueueError(error, 'LOCKED')).toBe(true);
    expect(error.message).toContain('pid 1 on host other-host.example since 2026-12-01T00:00:00.000Z');
    expect(error.message).toContain(`remove ${join(spool, 'lock.000000000007')}`);
  });
});
