// @homing/smtp/client against nodemailer's SMTP transport, both delivering to Postfix's smtp-sink
// on loopback over the same number of connections, several messages per connection, in one run.
// smtp-sink runs as its own process, so this process's CPU time is the client's alone.

import { connect } from '@homing/smtp/client';
import { startSmtpSink } from '@homing/test-peers';
import nodemailer from 'nodemailer';
import { measure, median } from './lib/measure';

const CONNECTIONS = 4;
const MESSAGES = 800;
const ROUNDS = 3;
const SIZE = 10 * 1024;

const sink = await startSmtpSink(['-m', '256'], { backlog: 256, onOutput: (text) => process.stderr.write(text) });
const port = sink.port;

const line = `${'x'.repeat(76)}\r\n`;
const message = Buffer.from(
  `From: a@example.com\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n${line.repeat(Math.ceil(SIZE / line.length))}`,
);

async function homing(): Promise<void> {
  const perConnection = MESSAGES / CONNECTIONS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const client = await connect({ host: '127.0.0.1', port, hostname: 'bench.example', tls: { mode: 'none' } });
      for (let i = 0; i < perConnection; i++) {
        const result = await client.send({ from: 'a@example.com', to: ['b@example.net'], message });
        if (result.accepted.length !== 1) throw new Error('message not accepted');
      }
      await client.close();
    }),
  );
}

async function nodemailerTransport(): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: Number.POSITIVE_INFINITY,
    ignoreTLS: true,
    name: 'bench.example',
  });
  const perConnection = MESSAGES / CONNECTIONS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (let i = 0; i < perConnection; i++) {
        await transport.sendMail({ envelope: { from: 'a@example.com', to: ['b@example.net'] }, raw: message });
      }
    }),
  );
  transport.close();
}

const results: Record<string, { rate: number[]; cpu: number[] }> = {
  '@homing/smtp/client': { rate: [], cpu: [] },
  'nodemailer SMTP pool': { rate: [], cpu: [] },
};
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of [
      ['@homing/smtp/client', homing],
      ['nodemailer SMTP pool', nodemailerTransport],
    ] as const) {
      const { rate, cpuMicros } = await measure(MESSAGES, run);
      results[name]!.rate.push(rate);
      results[name]!.cpu.push(cpuMicros);
    }
  }
} finally {
  await sink.stop();
}

console.log(
  `${MESSAGES} messages of ${message.length} octets to smtp-sink over ${CONNECTIONS} connections, median of ${ROUNDS} rounds\n`,
);
console.log('| client                 |  msg/s | client CPU µs/msg | ratio |');
console.log('| ---------------------- | -----: | ----------------: | ----: |');
const base = median(results['nodemailer SMTP pool']!.rate);
for (const [name, { rate, cpu }] of Object.entries(results)) {
  const r = median(rate);
  console.log(
    `| ${name.padEnd(22)} | ${r.toFixed(0).padStart(6)} | ${median(cpu).toFixed(0).padStart(17)} | ${(r / base).toFixed(2).padStart(5)} |`,
  );
}
