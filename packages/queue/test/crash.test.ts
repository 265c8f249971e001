import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
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
  if (spool !== '') await rm(spool, { recursive: true, force: true });
  if (bundleDirectory !== '') await rm(bundleDirectory, { recursive: true, force: true });
});

interface Facts {
  acknowledged: Map<string, { sha: string; recipients: string[] }>;
  settled: Set<string>;
  mayComplete: Set<string>;
  handedOutAgain: string[];
  claims: number;
}

/** Runs the child until it is ready, lets it work for `workMs`, then kills it with SIGKILL. */
function runAndKill(facts: Facts, workMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, spool], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    process_.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    let timer: NodeJS.Timeout | undefined;
    createInterface({ input: process_.stdout }).on('line', (line) => {
      const [kind, id = '', a = '', b = ''] = line.split(' ');
      if (kind === 'READY') timer = setTimeout(() => process_.kill('SIGKILL'), workMs);
      else if (kind === 'E') facts.acknowledged.set(id, { sha: a, recipients: b.split(',') });
      else if (kind === 'C') facts.mayComplete.add(id);
      else if (kind === 'S') facts.settled.add(`${id} ${a}`);
      else if (kind === 'K') {
        facts.claims += 1;
        if (facts.settled.has(`${id} ${a}`)) facts.handedOutAgain.push(`${id} ${a}`);
      }
    });
    process_.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`crash child exited by itself (code ${code}): ${stderr}`));
    });
  });
}

describe('crash safety', () => {
  it(`keeps every acknowledged message intact and never hands a settled recipient out again over ${minimumRounds} to ${rounds} SIGKILLs`, async () => {
    spool = await mkdtemp(join(tmpdir(), 'homing-queue-crash-'));
    const facts: Facts = {
      acknowledged: new Map(),
      settled: new Set(),
      mayComplete: new Set(),
      handedOutAgain: [],
      claims: 0,
    };
    const verified = new Set<string>();
    const started = Date.now();
    let completed = 0;
    for (let round = 0; round < rounds && (round < minimumRounds || Date.now() - started < budgetMs); round += 1) {
      await runAndKill(facts, 50 + Math.floor(Math.random() * 400));
      const queue = await openFileQueue({ spool });
      const lost: string[] = [];
      const damaged: string[] = [];
      const resurrected: string[] = [];
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
        }
      }
      expect({ round, lost, damaged, resurrected, corrupt: queue.recovery.corrupt }).toEqual({
        round,
        lost: [],
        damaged: [],
        resurrected: [],
        corrupt: [],
      });
      await queue.close();
      completed += 1;
    }
    expect(completed).toBeGreaterThanOrEqual(minimumRounds);
    expect(facts.handedOutAgain).toEqual([]);
    // The run must have done real work for the checks above to mean something.
    expect(facts.acknowledged.size).toBeGreaterThan(200);
    expect(facts.settled.size).toBeGreaterThan(50);
    expect(facts.mayComplete.size).toBeGreaterThan(20);
  }, 120_000);
});
