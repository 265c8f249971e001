// @homing/delivery beside Postfix (3.7, the binaries `bash .ci/install-peers.sh` unpacks) and
// nodemailer's SMTP transport (pool of 20), all three delivering the same 4 KiB messages to
// Postfix's smtp-sink on loopback over 20 connections, in one run.
// - Homing goes the whole way a delivery goes: recipient domain -> MX lookup (loopback DNS server,
//   cached by TTL) -> session pool -> per-recipient outcome.
// - Postfix relays to the sink as its relayhost (no DNS: its resolver cannot be pointed at a
//   loopback DNS server on a high port). The batch is first queued on hold through Postfix's own
//   smtpd (not timed), then released: what is timed is Postfix delivering from its queue
//   (qmgr + smtp processes), until the sink has counted every message.
// - nodemailer is pointed straight at the sink.
// Postfix runs as a throw-away instance in a temporary directory, without a postfix user or
// postdrop group (mail_owner nobody, setgid_group mail); it needs root to start. Both peers are
// started by @homing/test-peers.

import { createDeliveryAgent } from '@homing/delivery';
import { createResolver } from '@homing/dns';
import { startDnsServer } from '@homing/dns/testing';
import { type PostfixServer, startPostfix, startSmtpSink } from '@homing/test-peers';
import nodemailer from 'nodemailer';
import { measure, median } from './lib/measure';

const CONNECTIONS = 20;
const MESSAGES = 2000;
const ROUNDS = 3;
const SIZE = 4 * 1024;

// -c: smtp-sink prints its counters (sess= quit= mesg=) as messages arrive; Postfix is timed by them.
let sunk = 0;
const sink = await startSmtpSink(['-c', '-m', '256'], {
  backlog: 256,
  onOutput: (text) => {
    const counts = [...text.matchAll(/mesg=(\d+)/g)];
    if (counts.length > 0) sunk = Number(counts.at(-1)![1]);
  },
});
const port = sink.port;
const dns = await startDnsServer({
  zones: {
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], ttl: 3600 },
    'mx.example.net': { A: ['127.0.0.1'], ttl: 3600 },
  },
});
let postfix: PostfixServer | undefined;
let postfixProblem = '';
try {
  // Postfix relays everything to the sink; the batch is held first by the X-Bench-Hold header.
  postfix = await startPostfix({
    relayPort: port,
    concurrency: CONNECTIONS,
    hold: '/^X-Bench-Hold:/',
    hostname: 'postfix.bench.example',
  });
} catch (error) {
  postfixProblem = (error as Error).message;
}

const line = `${'x'.repeat(76)}\r\n`;
const body = line.repeat(Math.ceil(SIZE / line.length));
const message = Buffer.from(`From: a@example.com\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n${body}`);
// The same message, marked so that Postfix's cleanup puts it on hold until the timed release.
const heldMessage = Buffer.from(`X-Bench-Hold: 1\r\n${message.toString('latin1')}`, 'latin1');

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

async function nodemailerPool(target = port, raw = message): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: target,
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: Number.POSITIVE_INFINITY,
    ignoreTLS: true,
    name: 'bench.example',
  });
  await spread(async (index) => {
    const info = await transport.sendMail({ envelope: { from: 'a@example.com', to: [`r${index}@example.net`] }, raw });
    if (info.accepted.length !== 1) throw new Error('not accepted');
  });
  transport.close();
}

/** Queues the batch in Postfix on hold (not timed), then returns the timed part: release and wait for the sink. */
async function postfixBatch(): Promise<() => Promise<void>> {
  const instance = postfix!;
  await nodemailerPool(instance.port, heldMessage);
  const deadline = Date.now() + 60_000;
  while (instance.held() < MESSAGES) {
    if (Date.now() > deadline) throw new Error(`postfix holds ${instance.held()} of ${MESSAGES} messages`);
    await new Promise((done) => setTimeout(done, 20));
  }
  return async () => {
    const target = sunk + MESSAGES;
    await instance.releaseAll();
    const until = Date.now() + 120_000;
    while (sunk < target) {
      if (Date.now() > until) throw new Error(`postfix delivered ${MESSAGES - (target - sunk)} of ${MESSAGES}`);
      await new Promise((done) => setTimeout(done, 2));
    }
  };
}

const POSTFIX = 'Postfix 3.7 (relayhost)';
const contenders: [string, () => Promise<{ rate: number; cpuMicros: number }>][] = [
  ['@homing/delivery', () => measure(MESSAGES, homing)],
  ['nodemailer SMTP pool (20)', () => measure(MESSAGES, () => nodemailerPool())],
];
if (postfix !== undefined) {
  contenders.push([
    POSTFIX,
    async () => {
      const timed = await postfixBatch();
      // Postfix works in its own processes: this process's CPU time says nothing about it.
      return { ...(await measure(MESSAGES, timed)), cpuMicros: Number.NaN };
    },
  ]);
}
const results = new Map<string, { rate: number[]; cpu: number[] }>(
  contenders.map(([name]) => [name, { rate: [], cpu: [] }]),
);
try {
  await homing(); // warm up, so JIT and the DNS cache do not count against the first round
  await nodemailerPool();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      const { rate, cpuMicros } = await run();
      results.get(name)!.rate.push(rate);
      results.get(name)!.cpu.push(cpuMicros);
    }
  }
} finally {
  await postfix?.stop();
  await sink.stop();
  await dns.close();
}

console.log(
  `${MESSAGES} messages of ${message.length} octets, one recipient each, to smtp-sink over ${CONNECTIONS} connections; median of ${ROUNDS} rounds\n`,
);
const reference = results.has(POSTFIX) ? POSTFIX : 'nodemailer SMTP pool (20)';
console.log(`| sender                    |  msg/s | sender CPU µs/msg | ratio to ${reference} |`);
console.log('| ------------------------- | -----: | ----------------: | ----: |');
const base = median(results.get(reference)!.rate);
for (const [name, { rate, cpu }] of results) {
  const r = median(rate);
  const c = median(cpu);
  console.log(
    `| ${name.padEnd(25)} | ${r.toFixed(0).padStart(6)} | ${(Number.isNaN(c) ? 'n/a' : c.toFixed(0)).padStart(17)} | ${(r / base).toFixed(2).padStart(5)} |`,
  );
}
if (postfix === undefined) console.log(`\nPostfix is not in this run: ${postfixProblem}`);
