import { type ChildProcess, spawn } from 'node:child_process';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { HOMING_BIN, runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// homing send delivering to homing sink: both ends of Homing, over loopback DNS and TCP.

let dns: DnsServer;
let sink: ChildProcess;
let sinkOutput = '';
let port: number;

beforeAll(async () => {
  dns = await startDnsServer({
    zones: {
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
    },
  });
  sink = spawn(process.execPath, [HOMING_BIN, 'sink', '--listen', '127.0.0.1:0', '--interval', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sink.stdout!.setEncoding('utf8').on('data', (text: string) => {
    sinkOutput += text;
  });
  const deadline = Date.now() + 15_000;
  let match: RegExpExecArray | null = null;
  while (match === null) {
    if (Date.now() > deadline || sink.exitCode !== null) throw new Error(`homing sink did not start: ${sinkOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    match = /sink listening address=127\.0\.0\.1:(\d+)/.exec(sinkOutput);
  }
  port = Number(match[1]);
}, 30_000);

afterAll(async () => {
  if (sink.exitCode === null) {
    const exited = new Promise((resolve) => sink.once('exit', resolve));
    sink.kill('SIGTERM');
    await exited;
  }
  await dns.close();
});

const homing = (args: string[], input: string) => runHoming(args, { input });

describe('homing send to homing sink', { timeout: 30_000 }, () => {
  it('delivers a message the sink counts', async () => {
    const run = await homing(
      [
        'send',
        '--from',
        'a@example.org',
        '--to',
        'b@example.net',
        '--to',
        'c@example.net',
        '--dns',
        dns.address,
        '--mx-port',
        String(port),
        '--timeout',
        '5',
        '--json',
      ],
      'From: a@example.org\r\nSubject: to the sink\r\n\r\nHello sink.\r\n',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.recipients.map((r: { status: string }) => r.status)).toEqual(['delivered', 'delivered']);
    expect(result.recipients[0].reply).toMatch(/^250/);
    const deadline = Date.now() + 5000;
    while (!/sink messages=1 /.test(sinkOutput) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(sinkOutput).toMatch(/sink messages=1 /);
  });
});
