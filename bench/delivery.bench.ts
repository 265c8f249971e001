// @homing/delivery against nodemailer's SMTP transport (pool of 20), both delivering the same
// messages to Postfix's smtp-sink on loopback over 20 connections, in one run. Homing goes the
// whole way a delivery goes: recipient domain -> MX lookup (loopback DNS server, cached by TTL)
// -> session pool -> per-recipient outcome; nodemailer is pointed straight at the sink.
// Postfix itself is not in this run: running a Postfix instance (master, qmgr, smtp) needs a
// postfix user, a postdrop group and a queue owned by them, which this shared machine does not have.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createDeliveryAgent } from '@homing/delivery';
import { createResolver } from '@homing/dns';
import { startDnsServer } from '@homing/dns/testing';
import nodemailer from 'nodemailer';

const CONNECTIONS = 20;
const MESSAGES = 2000;
const ROUNDS = 3;
const SIZE = 4 * 1024;

const root = resolve(import.meta.dirname, '..');
const sinkPath = join(root, '.cache/postfix/usr/sbin/smtp-sink');
if (!existsSync(sinkPath)) {
  console.error(`smtp-sink is missing at ${sinkPath}: run \`bash .ci/install-peers.sh\``);
  process.exit(1);
}

// smtp-sink cannot report the port it got for :0, so take a free ephemeral port and hand it over.
const port = await new Promise<number>((done) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const address = probe.address();
    probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
  });
});
const sink = spawn(
  sinkPath,
  [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), '-m', '256', `127.0.0.1:${port}`, '256'],
  { env: { ...process.env, LD_LIBRARY_PATH: join(root, '.cache/postfix/usr/lib/postfix') }, stdio: 'inherit' },
);
await new Promise((done) => setTimeout(done, 300));
const dns = await startDnsServer({
  zones: {
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], ttl: 3600 },
    'mx.example.net': { A: ['127.0.0.1'], ttl: 3600 },
  },
});

const line = `${'x'.repeat(76)}\r\n`;
const message = Buffer.from(
  `From: a@example.com\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n${line.repeat(Math.ceil(SIZE / line.length))}`,
);

/** Runs `send` MESSAGES times, CONNECTIONS at a time. */
async function spread(send: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < MESSAGES) await send(next++);
    }),
  );
}

async function homing(): Promise<void> {
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address] }),
    hostname: 'bench.example',
    port,
    addressPreference: 'ipv4',
    maxConnections: CONNECTIONS,
    maxConnectionsPerDomain: CONNECTIONS,
    maxMessagesPerConnection: MESSAGES,
  });
  await spread(async (index) => {
    const result = await agent.deliver({ from: 'a@example.com', to: [`r${index}@example.net`] }, message);
    if (result.recipients[0]!.status !== 'delivered') throw new Error(`not delivered: ${result.recipients[0]!.reason}`);
  });
  await agent.close();
}

async function nodemailerPool(): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: Number.POSITIVE_INFINITY,
    ignoreTLS: true,
    name: 'bench.example',
  });
  await spread(async (index) => {
    const info = await transport.sendMail({
      envelope: { from: 'a@example.com', to: [`r${index}@example.net`] },
      raw: message,
    });
    if (info.accepted.length !== 1) throw new Error('not accepted');
  });
  transport.close();
}

async function measure(run: () => Promise<void>): Promise<{ rate: number; cpuMicros: number }> {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: MESSAGES / seconds, cpuMicros: (used.user + used.system) / MESSAGES };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const peers = [
  ['@homing/delivery', homing],
  ['nodemailer SMTP pool (20)', nodemailerPool],
] as const;
const results = new Map<string, { rate: number[]; cpu: number[] }>(
  peers.map(([name]) => [name, { rate: [], cpu: [] }]),
);
try {
  await homing(); // warm up both, so JIT and the DNS cache do not count against the first round
  await nodemailerPool();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of round % 2 === 0 ? peers : [...peers].reverse()) {
      const { rate, cpuMicros } = await measure(run);
      results.get(name)!.rate.push(rate);
      results.get(name)!.cpu.push(cpuMicros);
    }
  }
} finally {
  sink.kill('SIGTERM');
  await dns.close();
}

console.log(
  `${MESSAGES} messages of ${message.length} octets, one recipient each, to smtp-sink over ${CONNECTIONS} connections; median of ${ROUNDS} rounds\n`,
);
console.log('| sender                    |  msg/s | sender CPU µs/msg | ratio |');
console.log('| ------------------------- | -----: | ----------------: | ----: |');
const base = median(results.get('nodemailer SMTP pool (20)')!.rate);
for (const [name, { rate, cpu }] of results) {
  const r = median(rate);
  console.log(
    `| ${name.padEnd(25)} | ${r.toFixed(0).padStart(6)} | ${median(cpu).toFixed(0).padStart(17)} | ${(r / base).toFixed(2).padStart(5)} |`,
  );
}
console.log('\nPostfix is not in this run (no postfix user, postdrop group or queue on this machine).');
