import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/homing.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

// Starts `homing sink` on an ephemeral port and collects its stdout lines.
async function startSink(args: string[] = []) {
  const child = spawn(process.execPath, [bin, 'sink', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    partial += text;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const waitFor = async (pattern: RegExp, timeout = 10_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeout;
    for (;;) {
      for (const line of lines) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const port = Number((await waitFor(/sink listening address=127\.0\.0\.1:(\d+)$/))[1]);
  return { child, lines, waitFor, port };
}

// Sends `count` messages on one real SMTP connection, checking every reply code.
async function sendMail(port: number, count: number, body: string): Promise<string[]> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  let buffer = '';
  const replies: string[] = [];
  const waiters: (() => void)[] = [];
  socket.on('data', (text: string) => {
    buffer += text;
    for (;;) {
      const match = /^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n/.exec(buffer);
      if (!match) break;
      buffer = buffer.slice(match[0].length);
      replies.push(match[0]);
    }
    for (const waiter of waiters.splice(0)) waiter();
  });
  const next = async (): Promise<string> => {
    while (replies.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
    return replies.shift()!;
  };
  const codes: string[] = [(await next()).slice(0, 3)];
  socket.write('EHLO test.client\r\n');
  codes.push((await next()).slice(0, 3));
  for (let i = 0; i < count; i++) {
    socket.write('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@sink.test>\r\nDATA\r\n');
    codes.push((await next()).slice(0, 3), (await next()).slice(0, 3), (await next()).slice(0, 3));
    socket.write(`${body}\r\n.\r\n`);
    codes.push((await next()).slice(0, 3));
  }
  socket.write('QUIT\r\n');
  codes.push((await next()).slice(0, 3));
  socket.end();
  return codes;
}

describe('homing sink', () => {
  it('accepts mail over a real socket, counts it and prints a summary line every second', async () => {
    const sink = await startSink(['--hostname', 'sink.test']);
    const codes = await sendMail(sink.port, 3, 'Subject: x\r\n\r\nhello');
    expect(codes).toEqual(['220', '250', ...Array(3).fill(['250', '250', '354', '250']).flat(), '221']);
    const match = await sink.waitFor(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sink messages=3 rate=\d+\/s connections=\d+ bytes=(\d+)$/,
    );
    // "Subject: x\r\n\r\nhello\r\n" is 21 octets, three times.
    expect(Number(match[1])).toBe(63);
    const exit = new Promise<number | null>((resolve) => sink.child.once('exit', (code) => resolve(code)));
    sink.child.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 30_000);

  it('refuses a message over --max-size with 552', async () => {
    const sink = await startSink(['--max-size', '10']);
    const codes = await sendMail(sink.port, 1, 'x'.repeat(100));
    expect(codes).toEqual(['220', '250', '250', '250', '354', '552', '221']);
  }, 30_000);

  it('explains a bad --listen value and exits non-zero', async () => {
    const result = await promisify(execFile)(process.execPath, [bin, 'sink', '--listen', 'nowhere']).catch(
      (error) => error,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toBe('homing: --listen must be HOST:PORT, e.g. 127.0.0.1:2525 (got "nowhere")\n');
  }, 30_000);

  it('prints its options with --help', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'sink', '--help']);
    expect(stdout).toContain('--listen <host:port>');
    expect(stdout).toContain('--max-size <octets>');
  }, 30_000);
});
