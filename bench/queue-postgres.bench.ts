// @homing/queue's PostgreSQL backend beside the file backend, in one run on the same disk:
// enqueues per second of 10 KiB messages at concurrency 1 and 64 (each resolves only once
// durable: fsync for the file backend, COMMIT with synchronous_commit for PostgreSQL), then
// claim+settle per second at concurrency 1 and 64 with 20,000 messages queued, then one and two
// competing worker processes claiming+settling from one PostgreSQL queue.
// PostgreSQL: $HOMING_TEST_POSTGRES, or a throw-away cluster this bench starts under .cache
// with .ci/postgres.sh (Debian's postgresql package) and stops at the end.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileQueue, type Queue } from '@homing/queue';
import { openPostgresQueue } from '@homing/queue/postgres';

const here = fileURLToPath(new URL('.', import.meta.url));
const envelope = { sender: 'bench@example.org', recipients: ['rcpt@example.net'] };
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const schemaName = () => `bench_${randomBytes(5).toString('hex')}`;

/**
 * Claims and settles (delivered) for `ms` or until `most` are settled, `concurrency` claims in
 * flight; resolves to settles per second. The same loop, recipients (one) and outcome for both
 * backends.
 */
async function claimSettleRate(
  queue: Queue,
  concurrency: number,
  ms: number,
  most = Number.POSITIVE_INFINITY,
): Promise<{ rate: number; settled: number }> {
  let settled = 0;
  const started = performance.now();
  while (performance.now() - started < ms && settled < most) {
    const claims = await queue.claim({ limit: Math.min(concurrency, most - settled) });
    if (claims.length === 0) break;
    await Promise.all(
      claims.map((claim) =>
        queue.settle(
          claim.leaseId,
          claim.recipients.map((r) => ({ recipient: r.address, status: 'delivered' as const })),
        ),
      ),
    );
    settled += claims.length;
  }
  return { rate: settled / ((performance.now() - started) / 1000), settled };
}

// A worker process of the competing-workers row: `queue-postgres.bench.ts worker URL SCHEMA MS`.
if (process.argv[2] === 'worker') {
  const [, , , connectionString, schema, ms] = process.argv;
  // The default pool (20 connections): what a host gets without tuning.
  const queue = await openPostgresQueue({ connectionString: connectionString!, schema });
  // One second of warm-up first (JIT, connections, prepared statements), as the rows of the main
  // process have had: a cold process spent its first second compiling, and two cold ones at once
  // compiled against each other on this 2-core machine.
  await claimSettleRate(queue, 64, 1000);
  process.stdout.write('MEASURING\n');
  const cpu = process.cpuUsage();
  const { rate, settled } = await claimSettleRate(queue, 64, Number(ms));
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${rate} ${(used.user + used.system) / 1e6} ${settled}\n`);
  await queue.close();
  process.exit(0);
}

const cache = join(here, '..', '.cache');
await mkdir(cache, { recursive: true });
const root = await mkdtemp(join(cache, 'queue-postgres-bench-'));
// mkdtemp makes it 0700: as root, the cluster inside runs as the postgres user, who must get through.
await chmod(root, 0o755);
let connectionString = process.env.HOMING_TEST_POSTGRES;
let ownCluster: string | undefined;
if (!connectionString) {
  ownCluster = join(root, 'postgres');
  const exports = execFileSync('bash', [join(here, '..', '.ci', 'postgres.sh'), 'start', ownCluster], {
    encoding: 'utf8',
  });
  connectionString = /HOMING_TEST_POSTGRES=(\S+)/.exec(exports)?.[1];
}
const url = connectionString!;
const loadAtStart = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
const schemas: string[] = [];

async function fileQueue(): Promise<{ queue: Queue; done: () => Promise<void> }> {
  const spool = await mkdtemp(join(root, 'spool-'));
  const queue = await openFileQueue({ spool });
  return { queue, done: () => rm(spool, { recursive: true, force: true }) };
}

async function postgresQueue(poolSize = 20): Promise<{ queue: Queue; schema: string; done: () => Promise<void> }> {
  const schema = schemaName();
  schemas.push(schema);
  const queue = await openPostgresQueue({ connectionString: url, schema, poolSize });
  return { queue, schema, done: async () => undefined };
}

async function enqueueRate(queue: Queue, concurrency: number, body: Buffer, ms: number): Promise<number> {
  let done = 0;
  const started = performance.now();
  const lane = async () => {
    while (performance.now() - started < ms) {
      await queue.enqueue(envelope, body);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return done / ((performance.now() - started) / 1000);
}

async function fill(queue: Queue, count: number): Promise<void> {
  const small = randomBytes(1024);
  let filled = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (filled < count) {
        filled += 1;
        await queue.enqueue(envelope, small);
      }
    }),
  );
}

// The CPU time of the PostgreSQL server's processes (the postmaster's children, read from /proc:
// this cluster serves only this bench) and of the whole machine.
const { default: pg } = await import('pg');
const client = new pg.Client({ connectionString: url });
await client.connect();
const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
const postmaster = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${backend}/status`, 'utf8'))?.[1]);
/**
 * CPU seconds used so far by the PostgreSQL server: the postmaster's own, its children's alive
 * now, and those of the children it has reaped (cutime, cstime: the workers' backends end with them).
 */
function serverCpu(): number {
  const fieldsOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const own = fieldsOf(String(postmaster)).map(Number);
  let ticks = own[11]! + own[12]! + own[13]! + own[14]!;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = fieldsOf(entry);
      if (Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks / 100;
}
/** [busy, total] CPU time of the machine so far (all cores, /proc/stat). */
function machineCpu(): [number, number] {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  return [total - fields[3]! - fields[4]!, total];
}
// Enqueue: short interleaved slices of both backends, medians of the rates and of the ratio in each round.
const ROUNDS = 5;
const body = randomBytes(10 * 1024);
const rows = new Map<string, { file: number; postgres: number }[]>();
for (let round = 0; round < ROUNDS; round += 1) {
  for (const concurrency of [1, 64]) {
    const file = await fileQueue();
    const fileRate = await enqueueRate(file.queue, concurrency, body, 600);
    await file.queue.close();
    await file.done();
    const pg = await postgresQueue();
    const postgresRate = await enqueueRate(pg.queue, concurrency, body, 600);
    await pg.queue.close();
    const label = `enqueue 10 KiB, concurrency ${concurrency}`;
    rows.set(label, [...(rows.get(label) ?? []), { file: fileRate, postgres: postgresRate }]);
  }
}

// Claim + settle: for each row a fresh queue of each backend with 20,000 messages, of which
// the row settles at most 10,000 (3 s at most): both backends start from the same depth and
// neither drains its queue during the measurement. 3 interleaved rounds, medians.
const FILL = 20_000;
const MOST = FILL / 2;
const leaseCpu = new Map<string, { file: number; postgres: number; server: number }[]>();
for (let round = 0; round < 3; round += 1) {
  for (const concurrency of [1, 64]) {
    const label = `claim + settle, concurrency ${concurrency} (${FILL} queued)`;
    const sample = { file: 0, postgres: 0 };
    const cpuSample = { file: 0, postgres: 0, server: 0 };
    for (const [name, make] of [
      ['file', fileQueue],
      ['postgres', postgresQueue],
    ] as const) {
      const { queue, done } = await make();
      await fill(queue, FILL);
      // CPU per lease: this process (every thread: V8's helpers too) and the PostgreSQL server.
      const own = process.cpuUsage();
      const server = serverCpu();
      const run = await claimSettleRate(queue, concurrency, 3000, MOST);
      const used = process.cpuUsage(own);
      sample[name] = run.rate;
      cpuSample[name] = (used.user + used.system) / run.settled;
      if (name === 'postgres') cpuSample.server = ((serverCpu() - server) * 1e6) / run.settled;
      await queue.close();
      await done();
    }
    rows.set(label, [...(rows.get(label) ?? []), sample]);
    leaseCpu.set(label, [...(leaseCpu.get(label) ?? []), cpuSample]);
  }
}

console.log(`load average at the start ${loadAtStart}`);
console.log();
console.log(`| what (PostgreSQL ${url.replace(/\/\/[^@]*@/, '//')}) | file /s | PostgreSQL /s | PostgreSQL / file |`);
console.log('| --- | ---: | ---: | ---: |');
for (const [what, samples] of rows) {
  const file = median(samples.map((s) => s.file));
  const postgres = median(samples.map((s) => s.postgres));
  const ratio = median(samples.map((s) => s.postgres / s.file));
  console.log(`| ${what} | ${Math.round(file)} | ${Math.round(postgres)} | ${ratio.toFixed(2)}x |`);
}

console.log();
console.log(
  '| claim + settle, CPU per lease (µs, median of the rounds) | file: bench process | PostgreSQL: bench process | PostgreSQL: server | PostgreSQL (both) / file |',
);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [what, samples] of leaseCpu) {
  const at = (pick: (s: { file: number; postgres: number; server: number }) => number) =>
    median(samples.map(pick)).toFixed(1);
  console.log(
    `| ${what} | ${at((s) => s.file)} | ${at((s) => s.postgres)} | ${at((s) => s.server)} | ${median(samples.map((s) => (s.postgres + s.server) / s.file)).toFixed(2)}x |`,
  );
}

// Competing workers: separate processes (as separate hosts would be) on one PostgreSQL queue.
// While they measure, the CPU time of the PostgreSQL server's processes and of the whole machine.
const cores = availableParallelism();
interface WorkerRun {
  rate: number;
  /** Cores' worth of CPU while they measured: the workers', PostgreSQL's, the whole machine's. */
  workers: number;
  server: number;
  machine: number;
  /** CPU µs per lease settled: the workers' processes, the PostgreSQL server. */
  workersPerLease: number;
  serverPerLease: number;
}
async function workers(schema: string, count: number, ms: number): Promise<WorkerRun> {
  const self = fileURLToPath(import.meta.url);
  let measuring = 0;
  let start: { server: number; machine: [number, number]; at: number } | undefined;
  const results = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ rate: number; cpu: number; settled: number }>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', self, 'worker', url, schema, String(ms)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          child.stdout.on('data', (chunk) => {
            out += chunk;
            if (out.startsWith('MEASURING\n') && !out.includes('counted')) {
              out = `counted${out}`;
              measuring += 1;
              if (measuring === count) start = { server: serverCpu(), machine: machineCpu(), at: performance.now() };
            }
          });
          child.once('exit', (code) => {
            const [rate, cpu, settled] = out.trim().split('\n').at(-1)!.split(' ').map(Number);
            if (code === 0) resolve({ rate: rate!, cpu: cpu!, settled: settled! });
            else reject(new Error(`worker ${code}`));
          });
        }),
    ),
  );
  // Sampled once the last worker is done: the server's work ends with its workers' (close aside).
  const seconds = (performance.now() - start!.at) / 1000;
  const machine = machineCpu();
  const server = serverCpu() - start!.server;
  const settled = results.reduce((sum, r) => sum + r.settled, 0);
  return {
    rate: results.reduce((sum, r) => sum + r.rate, 0),
    workersPerLease: (results.reduce((sum, r) => sum + r.cpu, 0) * 1e6) / settled,
    serverPerLease: (server * 1e6) / settled,
    workers: results.reduce((sum, r) => sum + r.cpu, 0) / (ms / 1000),
    server: server / seconds,
    machine: ((machine[0] - start!.machine[0]) / (machine[1] - start!.machine[1])) * cores,
  };
}
// Each measurement starts from the same queue: topped up to WORKER_FILL messages first (two
// workers at several thousand a second each would otherwise drain it within the rounds).
const WORKER_FILL = 3 * FILL;
const shared = await postgresQueue();
await shared.queue.close();
async function topUp(): Promise<void> {
  const queue = await openPostgresQueue({ connectionString: url, schema: shared.schema });
  await fill(queue, WORKER_FILL - queue.recovery.messages);
  await queue.close();
}
const one: WorkerRun[] = [];
const two: WorkerRun[] = [];
// Three interleaved rounds (a median, not a mean of two): the load of this machine moves.
for (let round = 0; round < 3; round += 1) {
  await topUp();
  one.push(await workers(shared.schema, 1, 3000));
  await topUp();
  two.push(await workers(shared.schema, 2, 3000));
}
const middle = (runs: WorkerRun[]) => [...runs].sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)]!;
const cpu = (value: number) => value.toFixed(2);
console.log();
console.log(
  `| competing workers on one PostgreSQL queue (${WORKER_FILL} queued, 64 claims in flight each; the median run) | claim + settle /s | workers' CPU (cores) | PostgreSQL's CPU (cores) | whole machine busy (of ${cores} cores) | CPU µs per lease: workers, PostgreSQL |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [what, runs] of [
  ['one worker process', one],
  ['two worker processes together', two],
] as const) {
  const run = middle(runs);
  const times = runs === two ? ` (${(middle(two).rate / middle(one).rate).toFixed(2)}x one)` : '';
  console.log(
    `| ${what} | ${Math.round(run.rate)}${times} | ${cpu(run.workers)} | ${cpu(run.server)} | ${cpu(run.machine)} | ${run.workersPerLease.toFixed(1)}, ${run.serverPerLease.toFixed(1)} |`,
  );
}
console.log(
  `(rates of the ${one.length} rounds: one ${one.map((r) => Math.round(r.rate)).join(', ')}; two ${two.map((r) => Math.round(r.rate)).join(', ')}; load average at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')})`,
);

for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
await client.end();
if (ownCluster !== undefined) execFileSync('bash', [join(here, '..', '.ci', 'postgres.sh'), 'stop', ownCluster]);
await rm(root, { recursive: true, force: true });
