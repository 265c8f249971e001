// @homing/dns against Node's dns.promises.Resolver (c-ares), both asking the same loopback server.
// Node's resolver has no cache, so uncached is compared with uncached; cached lookups are shown on their own.
// The server runs in a worker thread so that it does not share the clients' event loop.
import { Resolver as NodeResolver } from 'node:dns/promises';
import { Worker } from 'node:worker_threads';
import { createResolver } from '@homing/dns';

const NAMES = 1000;
const CONCURRENCY = 32;
const ROUND_MS = 1000;
const ROUNDS = 5;
const names = Array.from({ length: NAMES }, (_, i) => `host${i}.bench.test`);

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   const { startDnsServer } = require('@homing/dns/testing');
   const zones = { 'bench.test': { A: ['127.0.0.1'] } };
   for (let i = 0; i < ${NAMES}; i++) zones['host' + i + '.bench.test'] = { A: ['127.0.0.' + ((i % 250) + 1)], ttl: 3600 };
   startDnsServer({ zones }).then((server) => parentPort.postMessage(server.address));`,
  { eval: true },
);
const address = await new Promise<string>((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});

/** Runs `lookup` over the names with CONCURRENCY in flight for ROUND_MS; lookups per second. */
async function measure(lookup: (name: string) => Promise<unknown>): Promise<number> {
  let next = 0;
  let done = 0;
  const deadline = performance.now() + ROUND_MS;
  const started = performance.now();
  const lane = async () => {
    while (performance.now() < deadline) {
      const name = names[next++ % NAMES] as string;
      await lookup(name);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return done / ((performance.now() - started) / 1000);
}

const homingUncached = createResolver({ servers: [address], cache: false, timeoutMs: 2000 });
const homingCached = createResolver({ servers: [address], timeoutMs: 2000 });
const node = new NodeResolver({ timeout: 2000, tries: 2 });
node.setServers([address]);

// Check both give the same answer before timing them.
const [ours, theirs] = [await homingUncached.resolveA('host7.bench.test'), await node.resolve4('host7.bench.test')];
if (ours.records.join() !== theirs.join()) throw new Error(`answers differ: ${ours.records} vs ${theirs}`);
for (const name of names) await homingCached.resolveA(name); // warm the cache

const results = { homing: [] as number[], node: [] as number[], cached: [] as number[] };
await measure((name) => homingUncached.resolveA(name)); // warm-up, not counted
await measure((name) => node.resolve4(name));
for (let round = 0; round < ROUNDS; round++) {
  globalThis.gc?.();
  results.homing.push(await measure((name) => homingUncached.resolveA(name)));
  globalThis.gc?.();
  results.node.push(await measure((name) => node.resolve4(name)));
  globalThis.gc?.();
  results.cached.push(await measure((name) => homingCached.resolveA(name)));
}
await worker.terminate();

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const format = (value: number) => Math.round(value).toLocaleString('en-US').padStart(12);
const nodeMedian = median(results.node);
console.log(`A lookups per second, ${CONCURRENCY} in flight, ${NAMES} names, loopback server in a worker thread;`);
console.log(`median of ${ROUNDS} rounds of ${ROUND_MS} ms (Node ${process.version})\n`);
console.log('| lookup                                   |   lookups/s | vs Node uncached |');
console.log('| ---------------------------------------- | -----------:| ----------------:|');
const row = (label: string, values: number[]) =>
  console.log(
    `| ${label.padEnd(40)} |${format(median(values))} | ${(median(values) / nodeMedian).toFixed(2).padStart(15)}x |`,
  );
row('uncached: Node dns.promises.Resolver', results.node);
row('uncached: @homing/dns (cache: false)', results.homing);
row('cached:   @homing/dns (all names cached)', results.cached);
