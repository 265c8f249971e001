// @homing/dns against Node's dns.promises.Resolver (c-ares), both asking the same loopback server.
// Node's resolver has no cache, so uncached is compared with uncached; cached lookups are shown on their own.
// Node's c-ares sends no EDNS0 OPT record (34 octets for host7.bench.test) where @homing/dns sends one by default
// (45 octets, and the server answers with an OPT too): the row with `ednsUdpSize: 0` asks the same question
// as Node (only the AD flag differs), so the server does the same work for both; that is the row the goal compares.
// Rounds take turns (homing first in even rounds, Node first in odd ones), so a burst of load on the machine
// falls on both alike; the median of the rounds is printed.
// The server runs in a child process, so that this process's CPU time is the client's alone.

import { spawn } from 'node:child_process';
import { Resolver as NodeResolver } from 'node:dns/promises';
import { createResolver } from '@homing/dns';

const NAMES = 1000;
const CONCURRENCY = 32;
const ROUND_MS = 500;
const ROUNDS = 11;
const names = Array.from({ length: NAMES }, (_, i) => `host${i}.bench.test`);

const child = spawn(
  process.execPath,
  [
    '-e',
    `const { startDnsServer } = require('@homing/dns/testing');
     const zones = { 'bench.test': { A: ['127.0.0.1'] } };
     for (let i = 0; i < ${NAMES}; i++) zones['host' + i + '.bench.test'] = { A: ['127.0.0.' + ((i % 250) + 1)], ttl: 3600 };
     startDnsServer({ zones }).then((server) => console.log(server.address));
     process.stdin.on('end', () => process.exit(0)).resume();`,
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const address = await new Promise<string>((resolve, reject) => {
  child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
  child.once('exit', (code) => reject(new Error(`the DNS server exited with ${code}`)));
});

/** Runs `lookup` over the names with CONCURRENCY in flight for ROUND_MS; lookups per second. */
async function measure(lookup: (name: string) => Promise<unknown>): Promise<{ rate: number; cpuMicros: number }> {
  let next = 0;
  let done = 0;
  const deadline = performance.now() + ROUND_MS;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const lane = async () => {
    while (performance.now() < deadline) {
      const name = names[next++ % NAMES] as string;
      await lookup(name);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const used = process.cpuUsage(cpu);
  return { rate: done / ((performance.now() - started) / 1000), cpuMicros: (used.user + used.system) / done };
}

const homingUncached = createResolver({ servers: [address], cache: false, timeoutMs: 2000 });
const homingNoEdns = createResolver({ servers: [address], cache: false, timeoutMs: 2000, ednsUdpSize: 0 });
const homingCached = createResolver({ servers: [address], timeoutMs: 2000 });
const node = new NodeResolver({ timeout: 2000, tries: 2 });
node.setServers([address]);

// Check both give the same answer before timing them.
const [ours, theirs] = [await homingUncached.resolveA('host7.bench.test'), await node.resolve4('host7.bench.test')];
if (ours.records.join() !== theirs.join()) throw new Error(`answers differ: ${ours.records} vs ${theirs}`);
for (const name of names) await homingCached.resolveA(name); // warm the cache

type Round = { rate: number; cpuMicros: number };
const results = { homing: [] as Round[], noEdns: [] as Round[], node: [] as Round[], cached: [] as Round[] };
const contenders: [keyof typeof results, (name: string) => Promise<unknown>][] = [
  ['homing', (name) => homingUncached.resolveA(name)],
  ['noEdns', (name) => homingNoEdns.resolveA(name)],
  ['node', (name) => node.resolve4(name)],
];
for (const [, lookup] of contenders) await measure(lookup); // warm-up, not counted
for (let round = 0; round < ROUNDS; round++) {
  for (const [key, lookup] of round % 2 === 0 ? contenders : [...contenders].reverse()) {
    globalThis.gc?.();
    results[key].push(await measure(lookup));
  }
  globalThis.gc?.();
  results.cached.push(await measure((name) => homingCached.resolveA(name)));
}
child.stdin.end();

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const rate = (rounds: Round[]) => median(rounds.map((round) => round.rate));
const cpu = (rounds: Round[]) => median(rounds.map((round) => round.cpuMicros));
const nodeRate = rate(results.node);
const nodeCpu = cpu(results.node);
console.log(`A lookups, ${CONCURRENCY} in flight, ${NAMES} names, loopback server in a child process;`);
console.log(`median of ${ROUNDS} rounds of ${ROUND_MS} ms (Node ${process.version}); CPU is this (client) process's\n`);
console.log('| lookup                                   |  lookups/s | vs Node | client CPU µs/lookup | vs Node |');
console.log('| ---------------------------------------- | ----------:| -------:| --------------------:| -------:|');
const row = (label: string, rounds: Round[]) =>
  console.log(
    `| ${label.padEnd(40)} | ${Math.round(rate(rounds)).toLocaleString('en-US').padStart(10)} | ${(rate(rounds) / nodeRate).toFixed(2).padStart(6)}x | ${cpu(rounds).toFixed(1).padStart(20)} | ${(cpu(rounds) / nodeCpu).toFixed(2).padStart(6)}x |`,
  );
row('uncached: Node dns.promises.Resolver', results.node);
row('uncached: @homing/dns (cache: false)', results.homing);
row('uncached: @homing/dns, no EDNS (as Node)', results.noEdns);
row('cached:   @homing/dns (all names cached)', results.cached);
const ratio = rate(results.noEdns) / nodeRate;
console.log(`\n- @homing/dns / Node, the same query: ${ratio.toFixed(2)}x (goal 1x) ${ratio >= 1 ? 'met' : 'NOT met'}`);
