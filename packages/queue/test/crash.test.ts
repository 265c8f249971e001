import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileQueue } from '../src/index';

const childSource = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
let child = '';
const rounds = 20;
// On a very loaded machine fewer rounds fit: stop starting new ones after this, but demand 10.
const budgetMs = 60_000;
const minimumRounds = 10;
let spool = '';
let bundleDirectory = '';
const reports: string[] = [];
const running = new Set<ReturnType<typeof spawn>>();
// The child is bundled once (from the sources, with tsup) so that each of the many restarts is a
// plain `node` start, not a TypeScript loader's.
beforeAll(async () => {
  bundleDirectory = await mkdtemp(join(tmpdir(), 'homing-queue-crash-child-'));
  await build({
    entry: { 'crash-child': childSource },
    format: ['esm'],
    outDir: bundleDirectory,
    outExtension: () => ({ js: '.mjs' }),
    platform: 'node',
    target: 'node20',
    config: false,
    dts: false,
    sourcemap: false,
    splitting: false,
    silent: true,
  });
  child = join(bundleDirectory, 'crash-child.mjs');
}, 60_000);
afterAll(async () => {
  for (const process_ of running) process_.kill('SIGKILL');
  if (spool !== '') await rm(spool, { recursive: true, force: true });
  for (const report of reports) await rm(report, { force: true });
  if (bundleDirectory !== '') await rm(bundleDirectory, { recursive: true, force: true });
});

interface Facts {
  acknowledged: Map<string, { sha: string; recipients: string[] }>;
  settled: Set<string>;
  /** "<id> <address>" of recipients a resolved settle failed: each must have exactly one bounce. */
  failed: Set<string>;
  mayComplete: Set<string>;
  handedOutAgain: string[];
  claims: number;
  /** "<id> <address>" -> ids of the bounces ever found queued for it, over all rounds. */
  bounces: Map<string, Set<string>>;
  /** Lines of the report files already applied (each round's file is read once, whole). */
  lines: number;
}

/** Blocks this process's event loop, as a loaded or descheduled parent would be. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface Child {
  process_: ReturnType<typeof spawn>;
  first: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startChild(reportPath: string): Child {
  const process_ = spawn(process.execPath, [child, spool, reportPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  process_.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  running.add(process_);
  process_.once('exit', () => running.delete(process_));
  // '' when stdout closed without a line (the child failed: see its stderr).
  const first = new Promise<string>((resolve) => {
    const lines = createInterface({ input: process_.stdout! });
    lines.once('line', resolve);
    lines.once('close', () => resolve(''));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    process_.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { process_, first, exited };
}

/**
 * Starts two children on the spool at once: exactly one must open it, the other must be refused
 * LOCKED naming the winner. The winner works for `workMs` and is killed with SIGKILL; when
 * `pauseMs` is set this process blocks for that long first, as the review's paused reader did.
 */
async function raceAndKill(facts: Facts, reportPath: string, workMs: number, pauseMs: number): Promise<void> {
  const children = [startChild(reportPath), startChild(reportPath)];
  const lines = await Promise.all(children.map((c) => c.first));
  for (const [index, line] of lines.entries()) {
    if (line === '') {
      const { code, stderr } = await children[index]!.exited;
      throw new Error(`crash child exited (code ${code}) before its first line: ${stderr}`);
    }
  }
  const winners = children.filter((_, i) => lines[i]!.startsWith('READY '));
  const losers = children.filter((_, i) => lines[i]!.startsWith('LOCKED '));
  expect({ winners: winners.length, losers: losers.length }).toEqual({ winners: 1, losers: 1 });
  const winner = winners[0]!;
  const loserLine = lines[children.indexOf(losers[0]!)]!;
  expect(loserLine).toContain(`pid ${winner.process_.pid} on host`);
  expect((await losers[0]!.exited).code).toBe(3);
  await new Promise((resolve) => setTimeout(resolve, workMs));
  if (pauseMs > 0) pause(pauseMs);
  winner.process_.kill('SIGKILL');
  const { signal, stderr } = await winner.exited;
  if (signal !== 'SIGKILL') throw new Error(`crash child exited by itself: ${stderr}`);
  // Everything it wrote before the kill is in the report file: apply the lines not seen yet.
  const all = (await readFile(reportPath, 'utf8')).split('\n');
  const complete = all.slice(0, -1); // the last element is '' or a line cut by the kill
  for (const line of complete.slice(facts.lines)) {
    const [kind, id = '', a = '', b = ''] = line.split(' ');
    if (kind === 'E') facts.acknowledged.set(id, { sha: a, recipients: b.split(',') });
    else if (kind === 'C') facts.mayComplete.add(id);
    else if (kind === 'S') {
      facts.settled.add(`${id} ${a}`);
      if (b === 'failed') facts.failed.add(`${id} ${a}`);
    } else if (kind === 'K') {
      facts.claims += 1;
      if (facts.settled.has(`${id} ${a}`)) facts.handedOutAgain.push(`${id} ${a}`);
    }
  }
  facts.lines = complete.length;
}

describe('crash safety', () => {
  it(`keeps every acknowledged message intact, never hands a settled recipient out again, and queues exactly one bounce per failed recipient over ${minimumRounds} to ${rounds} SIGKILLs`, async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-crash-'));
    const reportPath = join(spool, '..', `${spool.split('/').at(-1)}-report`);
    reports.push(reportPath);
    const facts: Facts = {
      acknowledged: new Map(),
      settled: new Set(),
      failed: new Set(),
      mayComplete: new Set(),
      handedOutAgain: [],
      claims: 0,
      bounces: new Map(),
      lines: 0,
    };
    const verified = new Set<string>();
    const started = Date.now();
    let completed = 0;
    for (let round = 0; round < rounds && (round < minimumRounds || Date.now() - started < budgetMs); round += 1) {
      // Every other round the parent stops reading for 400 ms before the kill.
      await raceAndKill(facts, reportPath, 50 + Math.floor(Math.random() * 400), round % 2 === 1 ? 400 : 0);
      const queue = await openFileQueue({ spool });
      const lost: string[] = [];
      const damaged: string[] = [];
      const resurrected: string[] = [];
      const visibleFailed: string[] = [];
      for (const [id, { sha }] of facts.acknowledged) {
        const info = await queue.inspect(id);
        if (info === undefined) {
          if (!facts.mayComplete.has(id)) lost.push(id);
          continue;
        }
        // Batch files are never rewritten, so a body checked once after a crash stays checked.
        if (!verified.has(id)) {
          const hash = createHash('sha256');
          for await (const chunk of await queue.openBody(id)) hash.update(chunk);
          if (hash.digest('hex') !== sha) damaged.push(id);
          verified.add(id);
        }
        for (const r of info.recipients) {
          if (facts.settled.has(`${id} ${r.address}`) && r.state !== 'delivered' && r.state !== 'failed') {
            resurrected.push(`${id} ${r.address}`);
          }
          if (r.state === 'failed') visibleFailed.push(`${id} ${r.address}`);
        }
      }
      // Count the bounces, then remove them so that the queue stays the same size round after round.
      for (const bounce of await queue.list({ sender: '' })) {
        for (const address of bounce.attributes.failed!.split(',')) {
          const key = `${bounce.attributes.bounceOf} ${address}`;
          facts.bounces.set(key, (facts.bounces.get(key) ?? new Set()).add(bounce.id));
        }
        await queue.remove(bounce.id);
      }
      const withoutBounce = [...facts.failed, ...visibleFailed].filter((key) => !facts.bounces.has(key));
      const bouncedTwice = [...facts.bounces].filter(([, ids]) => ids.size !== 1).map(([key]) => key);
      expect({
        round,
        lost,
        damaged,
        resurrected,
        withoutBounce,
        bouncedTwice,
        corrupt: queue.recovery.corrupt,
      }).toEqual({ round, lost: [], damaged: [], resurrected: [], withoutBounce: [], bouncedTwice: [], corrupt: [] });
      await queue.close();
      completed += 1;
    }
    expect(completed).toBeGreaterThanOrEqual(minimumRounds);
    expect(facts.handedOutAgain).toEqual([]);
    // The run must have done real work for the checks above to mean something.
    expect(facts.acknowledged.size).toBeGreaterThan(200);
    expect(facts.settled.size).toBeGreaterThan(50);
    expect(facts.mayComplete.size).toBeGreaterThan(20);
    expect(facts.failed.size).toBeGreaterThan(10);
    expect(facts.bounces.size).toBeGreaterThanOrEqual(facts.failed.size);
  }, 180_000);
});
