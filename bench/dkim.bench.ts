// @homing/dkim against mailauth's dkimSign (4.13.3) on the same messages in the same run, beside the
// machine's limit: node:crypto's sha256 over the same bytes plus one signature. Then the streaming
// memory check: a 200 MiB message, generated chunk by chunk and never held whole, signed with the
// peak memory growth reported.
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createSigner, signMessage } from '@homing/dkim';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';

const ROUNDS = 5;
const ROUND_MS = 400;
const SIZES: [string, number][] = [
  ['2 KiB', 2 * 1024],
  ['100 KiB', 100 * 1024],
  ['10 MiB', 10 * 1024 * 1024],
];

function makeMessage(size: number): Buffer {
  const header = [
    'From: Alice Example <alice@example.com>',
    'To: Bob Example <bob@example.net>',
    'Subject: Quarterly figures and the notes from Tuesday',
    'Date: Fri, 27 Nov 2026 21:00:00 +0000',
    'Message-ID: <bench.1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
  ].join('\r\n');
  const text = 'Hi Bob, here are the figures we talked about on Tuesday; the notes follow below.  \r\n';
  const parts = [header, '\r\n'];
  let length = header.length + 2;
  // About 1 KiB of text (some lines with trailing and double spaces), then base64 attachment lines.
  while (length < Math.min(size / 2, 1024)) {
    parts.push(text);
    length += text.length;
  }
  const attachment = '--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n';
  parts.push(attachment);
  length += attachment.length;
  const random = Buffer.alloc(57 * 1000);
  for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
  let offset = 0;
  while (length < size - 10) {
    const line = `${random.subarray(offset % random.length, (offset % random.length) + 57).toString('base64')}\r\n`;
    parts.push(line);
    length += line.length;
    offset += 57;
  }
  parts.push('--b1--\r\n');
  return Buffer.from(parts.join(''));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Messages per second of one run of `run` for at least ROUND_MS (or one message). */
async function round(run: () => unknown | Promise<unknown>): Promise<number> {
  let count = 0;
  const started = performance.now();
  do {
    await run();
    count++;
  } while (performance.now() - started < ROUND_MS);
  return count / ((performance.now() - started) / 1000);
}

/**
 * Rates of several contenders, rounds interleaved (A, B, C, A, B, C, ...) so that a change of load on
 * the machine hits all of them alike; medians of ROUNDS rounds, and the median of the per-round ratios.
 */
async function compare(runs: (() => unknown | Promise<unknown>)[]): Promise<{ rates: number[]; ratios: number[] }> {
  for (const run of runs) {
    const warmUntil = performance.now() + ROUND_MS / 2; // let the JIT settle before timing
    do await run();
    while (performance.now() < warmUntil);
  }
  const perRound: number[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const rates: number[] = [];
    for (const run of runs) rates.push(await round(run));
    perRound.push(rates);
  }
  const rates = runs.map((_, i) => median(perRound.map((rates) => rates[i]!)));
  // ratios[i] = median over rounds of rate[0] / rate[i]
  const ratios = runs.map((_, i) => median(perRound.map((rates) => rates[0]! / rates[i]!)));
  return { rates, ratios };
}

const keys: { name: string; algorithm: 'rsa-sha256' | 'ed25519-sha256'; pem: string; key: KeyObject }[] = [
  {
    name: 'rsa-2048',
    algorithm: 'rsa-sha256',
    pem: '',
    key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  },
  { name: 'ed25519', algorithm: 'ed25519-sha256', pem: '', key: generateKeyPairSync('ed25519').privateKey },
];
for (const k of keys) k.pem = k.key.export({ format: 'pem', type: 'pkcs8' }).toString();

const signedAt = new Date('2026-11-27T21:00:00Z');
const bodyHashOf = (header: string) => /bh=([^;]+);/.exec(header.replace(/\r\n\s+/g, ''))?.[1];

const rows: string[][] = [];
const mb = (size: number, perSecond: number) => ((size * perSecond) / 1e6).toFixed(1);
for (const [label, size] of SIZES) {
  const message = makeMessage(size);
  for (const k of keys) {
    const homing = () =>
      signMessage(message, { signatures: [{ domain: 'example.com', selector: 's', privateKey: k.key, signedAt }] });
    // mailauth's typings require the top-level signingDomain/selector/privateKey even when
    // signatureData gives them per signature, as its documentation shows; the cast says only that.
    const mailauth = () =>
      dkimSign(message, <Parameters<typeof dkimSign>[1]>{
        canonicalization: 'relaxed/relaxed',
        algorithm: k.algorithm,
        signTime: signedAt,
        signatureData: [{ signingDomain: 'example.com', selector: 's', privateKey: k.pem, algorithm: k.algorithm }],
      });
    const small = Buffer.alloc(32);
    const limit = () => {
      createHash('sha256').update(message).digest();
      sign(k.algorithm === 'rsa-sha256' ? 'sha256' : null, small, k.key);
    };
    // Same body hash from both signers, or the comparison means nothing.
    const ours = bodyHashOf(homing().header);
    const theirs = bodyHashOf((await mailauth()).signatures);
    if (!ours || ours !== theirs) throw new Error(`body hashes differ on ${label}: ${ours} vs ${theirs}`);
    const { rates, ratios } = await compare([homing, mailauth, limit]);
    const [h, m, l] = rates as [number, number, number];
    rows.push([
      label,
      k.name,
      h.toFixed(0),
      mb(message.length, h),
      m.toFixed(0),
      mb(message.length, m),
      `${ratios[1]!.toFixed(2)}x`,
      mb(message.length, l),
      `${(1 / ratios[2]!).toFixed(2)}x`,
    ]);
  }
}

function table(head: string[], body: string[][]): string {
  const widths = head.map((cell, i) => Math.max(cell.length, ...body.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padStart(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

console.log(
  `relaxed/relaxed, one signature; ${ROUNDS} interleaved rounds of >= ${ROUND_MS} ms: median rates, median of per-round ratios; node ${process.version}\n`,
);
console.log(
  table(
    [
      'message',
      'key',
      'homing msg/s',
      'homing MB/s',
      'mailauth msg/s',
      'mailauth MB/s',
      'homing/mailauth',
      'limit MB/s',
      'limit/homing',
    ],
    rows,
  ),
);
console.log(
  '\nlimit = sha256 over the same bytes + one signature (node:crypto). Goals: homing/mailauth >= 2x on 2 KiB,',
);
console.log('>= 4x on 100 KiB and 10 MiB; limit/homing <= 2x on 10 MiB.\n');

// Streaming memory: a 200 MiB message fed in 64 KiB chunks (one header chunk, then the same block of
// base64 lines again and again), so the message never exists whole; two signatures (rsa and ed25519).
const TOTAL = 200 * 1024 * 1024;
const sample = makeMessage(128 * 1024);
const headerEnd = sample.indexOf('\r\n\r\n') + 4;
const firstLine = sample.indexOf('\r\n', sample.length - 64 * 1024) + 2;
const block = sample.subarray(firstLine, firstLine + 64 * 1024 - ((64 * 1024) % 78));
globalThis.gc?.();
const before = process.memoryUsage();
let peakRss = before.rss;
let peakHeap = before.heapUsed;
const started = performance.now();
const signer = createSigner({
  signatures: [
    { domain: 'example.com', selector: 'rsa', privateKey: keys[0]!.key },
    { domain: 'example.com', selector: 'ed', privateKey: keys[1]!.key },
  ],
});
signer.update(sample.subarray(0, headerEnd));
let written = headerEnd;
for (let i = 0; written < TOTAL; i++) {
  signer.update(block);
  written += block.length;
  if (i % 32 === 0) {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  }
}
signer.final();
const seconds = (performance.now() - started) / 1000;
const MiB = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
console.log(
  `streaming: ${MiB(written)} MiB signed (rsa-2048 + ed25519) in ${seconds.toFixed(2)} s (${(written / 1024 / 1024 / seconds).toFixed(0)} MiB/s); ` +
    `peak RSS growth ${MiB(peakRss - before.rss)} MiB, peak heap growth ${MiB(peakHeap - before.heapUsed)} MiB (limit 64 MiB)`,
);
if (peakRss - before.rss > 64 * 1024 * 1024) {
  console.error('streaming memory over the 64 MiB limit');
  process.exitCode = 1;
}
