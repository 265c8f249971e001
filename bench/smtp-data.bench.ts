// DATA decoding throughput (MB/s) for a 10 MiB dot-stuffed message fed in 64 KiB chunks:
// @homing/smtp's DataDecoder alone, the whole ServerSession DATA path, and smtp-server's
// SMTPStream in data mode (the parser nodemailer's smtp-server uses) in the same run.
import { DataDecoder, NEED_DATA, ServerSession } from '@homing/smtp';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

const SIZE = 10 * 1024 * 1024;
const CHUNK = 64 * 1024;
const ROUNDS = Number(process.env.SMTP_BENCH_ROUNDS ?? 7);

// Lines of 76 characters; every 50th starts with a dot, as real bodies sometimes do.
const lines: string[] = [];
let length = 0;
for (let i = 0; length < SIZE; i++) {
  const line = `${i % 50 === 0 ? '.' : ''}${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3).slice(0, 76)}`;
  lines.push(line);
  length += line.length + 2;
}
const body = Buffer.from(lines.map((l) => `${l}\r\n`).join(''));
const wire = Buffer.from(lines.map((l) => `${l.startsWith('.') ? '.' : ''}${l}\r\n`).join('') + '.\r\n');
const chunks: Buffer[] = [];
for (let at = 0; at < wire.length; at += CHUNK) chunks.push(Buffer.from(wire.subarray(at, at + CHUNK)));

function decoderOnly(): number {
  const decoder = new DataDecoder(1000);
  let out = 0;
  let carry: Buffer | null = null;
  for (const chunk of chunks) {
    const input: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const step = decoder.decode(input, 0);
    for (const segment of step.segments) out += segment.length;
    carry = step.consumed < input.length ? input.subarray(step.consumed) : null;
    if (step.end) break;
  }
  return out;
}

function wholeSession(): number {
  const session = new ServerSession({ maxMessageSize: 0 });
  const decide = () => {
    for (;;) {
      const event = session.nextEvent();
      if (typeof event === 'symbol') return;
      if (event.type !== 'Reply' && event.type !== 'MessageData' && event.type !== 'MessageStart')
        session.send({ action: 'accept' });
      if (event.type === 'MessageData') out += event.data.length;
    }
  };
  let out = 0;
  decide();
  session.receiveData(Buffer.from('HELO b\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n'));
  decide();
  for (const chunk of chunks) {
    session.receiveData(chunk);
    decide();
  }
  if (session.nextEvent() !== NEED_DATA) throw new Error('the session did not finish the message');
  return out;
}

function smtpServerStream(): Promise<number> {
  return new Promise((resolve, reject) => {
    const parser = new SMTPStream();
    const data = parser.startDataMode(0);
    let out = 0;
    data.on('data', (chunk: Buffer) => {
      out += chunk.length;
    });
    data.on('end', () => resolve(out));
    data.on('error', reject);
    (async () => {
      for (const chunk of chunks) if (!parser.write(chunk)) await new Promise((r) => parser.once('drain', r));
    })().catch(reject);
  });
}

async function measure(name: string, run: () => number | Promise<number>): Promise<[string, number]> {
  const speeds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    globalThis.gc?.();
    const started = process.hrtime.bigint();
    const out = await run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (out !== body.length) throw new Error(`${name} decoded ${out} octets, expected ${body.length}`);
    speeds.push(wire.length / 1e6 / seconds);
  }
  speeds.sort((a, b) => a - b);
  return [name, speeds[Math.floor(speeds.length / 2)]!];
}

const results = [
  await measure('@homing/smtp DataDecoder', decoderOnly),
  await measure('@homing/smtp ServerSession (DATA path)', wholeSession),
  await measure('smtp-server SMTPStream (data mode)', smtpServerStream),
];
const peer = results[2]![1];
console.log(
  `DATA decoding, ${(wire.length / 1048576).toFixed(1)} MiB in ${CHUNK / 1024} KiB chunks, median of ${ROUNDS}\n`,
);
console.log('| decoder | MB/s | vs smtp-server |');
console.log('| --- | ---: | ---: |');
for (const [name, speed] of results) console.log(`| ${name} | ${speed.toFixed(0)} | ${(speed / peer).toFixed(2)}x |`);
