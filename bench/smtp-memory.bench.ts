// Memory of @homing/smtp/server: heap growth over the baseline with 1,000 idle connections, and
// while a 50 MiB message goes through a data hook that reads and discards it. The clients run in
// a child process so that their sockets do not count in this heap.
import { spawn } from 'node:child_process';
import { createServer } from '@homing/smtp/server';

const CONNECTIONS = 1000;
// 52 blocks of 1,024 lines of 1,000 octets: 53,248,000 octets, just over 50 MiB.
const BLOCKS = 52;
const MESSAGE_OCTETS = BLOCKS * 1024 * 1000;
const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc (npm run bench does)');

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

let received = 0;
let peak = 0;
let peakBuffers = 0;
let lastCheck = 0;
const server = createServer({
  limits: { maxConnections: 5000, maxConnectionsPerIp: 5000, maxMessageSize: 0 },
  hooks: {
    data: async (_session, message) => {
      for await (const chunk of message.body) {
        received += (chunk as Buffer).length;
        peak = Math.max(peak, process.memoryUsage().heapUsed);
        // Every ~5 MB, collect garbage and see what Buffer memory is still live.
        if (received - lastCheck > 5_000_000) {
          lastCheck = received;
          gc();
          peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers);
        }
      }
      return { action: 'accept' };
    },
  },
});
const { port } = await server.listen({ port: 0 });

const CLIENT = `
const net = require('node:net');
const port = ${port};
const sockets = [];
let greeted = 0;
for (let i = 0; i < ${CONNECTIONS}; i++) {
  const s = net.connect({ host: '127.0.0.1', port });
  s.once('data', () => { if (++greeted === ${CONNECTIONS}) console.log('idle-ready'); });
  s.on('error', (e) => { console.error(e.message); process.exit(1); });
  sockets.push(s);
}
process.stdin.on('data', async () => {
  const s = net.connect({ host: '127.0.0.1', port });
  let buffer = '';
  const replies = [];
  let wake = null;
  s.setEncoding('utf8');
  s.on('data', (t) => { buffer += t; let m; while ((m = /^(?:\\d{3}-[^\\n]*\\n)*\\d{3} [^\\n]*\\n/.exec(buffer))) { buffer = buffer.slice(m[0].length); replies.push(m[0]); } if (wake) { const w = wake; wake = null; w(); } });
  const next = async () => { while (replies.length === 0) await new Promise((r) => (wake = r)); return replies.shift(); };
  await next();
  s.write('EHLO memory.test\\r\\nMAIL FROM:<a@b.test>\\r\\nRCPT TO:<c@d.test>\\r\\nDATA\\r\\n');
  await next(); await next(); await next(); await next();
  const block = Buffer.from(('y'.repeat(998) + '\\r\\n').repeat(1024));
  for (let i = 0; i < ${BLOCKS}; i++) if (!s.write(block)) await new Promise((r) => s.once('drain', r));
  s.write('.\\r\\n');
  const reply = await next();
  console.log('message-done ' + reply.trim());
});
`;

const baseline = heap();
const baselineBuffers = process.memoryUsage().arrayBuffers;
const child = spawn(process.execPath, ['-e', CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines: string[] = [];
child.stdout!.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
const waitFor = async (prefix: string) => {
  const deadline = Date.now() + 120_000;
  while (!lines.some((l) => l.startsWith(prefix))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${prefix}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return lines.find((l) => l.startsWith(prefix))!;
};

await waitFor('idle-ready');
await new Promise((r) => setTimeout(r, 200));
const idle = heap();
const openConnections = server.stats().connections;
peak = process.memoryUsage().heapUsed;
child.stdin!.write('go\n');
const done = await waitFor('message-done');
const after = heap();
child.kill();
await server.close({ timeoutMs: 1000 });

if (received !== MESSAGE_OCTETS) throw new Error(`received ${received} octets, expected ${MESSAGE_OCTETS}`);
console.log(
  `@homing/smtp/server heap (after GC), ${openConnections} idle connections, then a ${mib(MESSAGE_OCTETS)} MiB message (${done.slice(13)})\n`,
);
console.log('| moment | heap MiB | over baseline MiB |');
console.log('| --- | ---: | ---: |');
console.log(`| baseline (listening) | ${mib(baseline)} | 0.0 |`);
console.log(`| ${openConnections} idle connections | ${mib(idle)} | ${mib(idle - baseline)} |`);
console.log(
  `| peak while the ${mib(MESSAGE_OCTETS)} MiB message streams (no GC) | ${mib(peak)} | ${mib(peak - baseline)} |`,
);
console.log(`| after the message, idle connections still open | ${mib(after)} | ${mib(after - baseline)} |`);
console.log(
  `\nBuffers outside the heap (arrayBuffers): ${mib(baselineBuffers)} MiB at baseline, at most ${mib(peakBuffers)} MiB live while streaming (sampled after GC every 5 MB).`,
);
console.log(`per idle connection: ${((idle - baseline) / openConnections / 1024).toFixed(1)} KiB`);
