import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgresQueue } from '../src/postgres/index';
import { describePostgres, freshSchema, postgresUrl } from './postgres-setup';

const childSource = fileURLToPath(new URL('./postgres-crash-child.ts', import.meta.url));
const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const rounds = 12;
const budgetMs = 60_000;
const minimumRounds = 8;
let child = '';
let workDirectory = '';
const running = new Set<ReturnType<typeof spawn>>();

// Bundled once, from the sources, into a folder of this package so that `pg` (external) resolves.
beforeAll(async () => {
  if (!postgresUrl) return;
  await mkdir(join(packageDirectory, 'node_modules'), { recursive: true });
  workDirectory = await mkdtemp(join(packageDirectory, 'node_modules', '.homing-postgres-crash-'));
  await build({
    entry: { 'postgres-crash-child': childSource },
    format: ['esm'],
    outDir: workDirectory,
    outExtension: () => ({ js: '.mjs' }),
    platform: 'node',
    target: 'node20',
    config: false,
    dts: false,
    sourcemap: false,
    splitting: false,
    silent: true,
    external: ['pg'],
  });
  child = join(workDirectory, 'postgres-crash-child.mjs');
}, 60_000);
afterAll(async () => {
  for (const process_ of running) process_.kill('SIGKILL');
  if (workDirectory !== '') await rm(workDirectory, { recursive: true, force: true });
});

interface Facts {
  acknowledged: Map<string, { sha: string; recipients: string[] }>;
  /** "<id> <address>" -> when a resolved settle made it final (the earliest, over both hosts). */
  settledAt: Map<string, number>;
  /** Of those, the ones a settle failed: each must have exactly one bounce. */
  failed: Set<string>;
  /** "<id> <address>" a settle was about to make final: its message may have vanished. */
  pendingFinal: Set<string>;
  claims: { key: string; at: number }[];
  bounces: Map<string, Set<string>>;
  /** Lines already applied, per report file. */
  lines: Map<string, number>;
}

/** Blocks this process's event loop, as a loaded or descheduled parent would be. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function startChild(schema: string, reportPath: string) {
  const process_ = spawn(process.execPath, [child, postgresUrl!, schema, reportPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  process_.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  running.add(process_);
  process_.once('exit', () => running.delete(process_));
  const ready = new Promise<string>((resolve) => {
    const lines = createInterface({ input: process_.stdout! });
    lines.once('line', resolve);
    lines.once('close', () => resolve(''));
  });
  const exited = new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    process_.once('exit', (_code, signal) => resolve({ signal, stderr })),
  );
  return { process_, ready, exited };
}

async function applyReport(facts: Facts, reportPath: string): Promise<void> {
  const all = (await readFile(reportPath, 'utf8').catch(() => '')).split('\n');
  const complete = all.slice(0, -1); // the last element is '' or a line cut by the kill
  for (const line of complete.slice(facts.lines.get(reportPath) ?? 0)) {
    const [kind, time = '', id = '', a = '', b = ''] = line.split(' ');
    const at = Number(time);
    if (kind === 'E') facts.acknowledged.set(id, { sha: a, recipients: b.split(',') });
    else if (kind === 'P') for (const address of a.split(',')) facts.pendingFinal.add(`${id} ${address}`);
    else if (kind === 'S') {
      const key = `${id} ${a}`;
      facts.settledAt.set(key, Math.min(facts.settledAt.get(key) ?? at, at));
      if (b === 'failed') facts.failed.add(key);
    } else if (kind === 'K') facts.claims.push({ key: `${id} ${a}`, at });
  }
  facts.lines.set(reportPath, complete.length);
}

describePostgres('PostgreSQL queue crash safety', () => {
  it(`keeps every acknowledged message, never hands a settled recipient out again, and queues exactly one bounce per failed recipient, with two hosts SIGKILLed at random instants ${minimumRounds} to ${rounds} times`, async () => {
    const schema = freshSchema();
    const reports = [join(workDirectory, 'host-a.report'), join(workDirectory, 'host-b.report')];
    const facts: Facts = {
      acknowledged: new Map(),
      settledAt: new Map(),
      failed: new Set(),
      pendingFinal: new Set(),
      claims: [],
      bounces: new Map(),
      lines: new Map(),
    };
    const verified = new Set<string>();
    const started = Date.now();
    let completed = 0;
    for (let round = 0; round < rounds && (round < minimumRounds || Date.now() - started < budgetMs); round += 1) {
      const children = reports.map((report) => startChild(schema, report));
      for (const [index, line] of (await Promise.all(children.map((c) => c.ready))).entries()) {
        if (!line.startsWith('READY ')) {
          const { stderr } = await children[index]!.exited;
          throw new Error(`crash child failed before it was ready: ${stderr}`);
        }
      }
      // Each host dies at its own random instant; every other round this process stops reading for 400 ms first.
      await Promise.all(
        children.map(async (c) => {
          await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(Math.random() * 500)));
          c.process_.kill('SIGKILL');
        }),
      );
      if (round % 2 === 1) pause(400);
      for (const c of children) {
        const { signal, stderr } = await c.exited;
        if (signal !== 'SIGKILL') throw new Error(`crash child exited by itself: ${stderr}`);
      }
      for (const report of reports) await applyReport(facts, report);
      const queue = await openPostgresQueue({ connectionString: postgresUrl!, schema });
      const lost: string[] = [];
      const damaged: string[] = [];
      const resurrected: string[] = [];
      const visibleFailed: string[] = [];
      for (const [id, { sha, recipients }] of facts.acknowledged) {
        const info = await queue.inspect(id);
        if (info === undefined) {
          // Gone is fine only when every recipient was made final by a settle (resolved or in flight).
          const accounted = recipients.every(
            (r) => facts.settledAt.has(`${id} ${r}`) || facts.pendingFinal.has(`${id} ${r}`),
          );
          if (!accounted) lost.push(id);
          continue;
        }
        if (!verified.has(id)) {
          const hash = createHash('sha256');
          for await (const chunk of await queue.openBody(id)) hash.update(chunk);
          if (hash.digest('hex') !== sha) damaged.push(id);
          verified.add(id);
        }
        for (const r of info.recipients) {
          const key = `${id} ${r.address}`;
          if (facts.settledAt.has(key) && r.state !== 'delivered' && r.state !== 'failed') resurrected.push(key);
          if (r.state === 'failed') visibleFailed.push(key);
        }
      }
      for (const bounce of await queue.list({ sender: '' })) {
        for (const address of bounce.attributes.failed!.split(',')) {
          const key = `${bounce.attributes.bounceOf} ${address}`;
          facts.bounces.set(key, (facts.bounces.get(key) ?? new Set()).add(bounce.id));
        }
        await queue.remove(bounce.id);
      }
      const withoutBounce = [...facts.failed, ...visibleFailed].filter((key) => !facts.bounces.has(key));
      const bouncedTwice = [...facts.bounces].filter(([, ids]) => ids.size !== 1).map(([key]) => key);
      expect({ round, lost, damaged, resurrected, withoutBounce, bouncedTwice }).toEqual({
        round,
        lost: [],
        damaged: [],
        resurrected: [],
        withoutBounce: [],
        bouncedTwice: [],
      });
      await queue.close();
      completed += 1;
    }
    // A claim that resolved after a settle of the same recipient had resolved, on either host.
    const handedOutAgain = facts.claims
      .filter(({ key, at }) => at > (facts.settledAt.get(key) ?? Number.POSITIVE_INFINITY))
      .map(({ key }) => key);
    expect(handedOutAgain).toEqual([]);
    expect(completed).toBeGreaterThanOrEqual(minimumRounds);
    // The run must have done real work for the checks above to mean something.
    expect(facts.acknowledged.size).toBeGreaterThan(200);
    expect(facts.settledAt.size).toBeGreaterThan(50);
    expect(facts.failed.size).toBeGreaterThan(10);
    expect(facts.claims.length).toBeGreaterThan(facts.settledAt.size);
  }, 180_000);
});
