// Postfix's smtp-sink as the remote MX hosts of the sending tests: several sinks on one port, each
// on its own loopback address (127.0.0.x), because `remote_port` is one port for every MX host.
// Each sink dumps every transaction to its own file (`-d`), LF line ends as smtp-sink writes them.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postfixEnv, postfixProgram } from '@homing/test-peers';

/** A running sink on host:port. */
export interface Sink {
  host: string;
  port: number;
  /** The dumped transactions so far (X-* envelope lines, then the message, CRLF restored). */
  messages(): string[];
  /** Waits for `count` dumped transactions. */
  waitForMessages(count: number, timeoutMs?: number): Promise<string[]>;
  output(): string;
  stop(): Promise<void>;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts smtp-sink on host:port with `flags` (e.g. `['-f', 'RCPT', '-B', '550 5.1.1 No such user']`). */
export async function startSink(host: string, port: number, flags: string[] = []): Promise<Sink> {
  const dir = mkdtempSync(join(tmpdir(), 'homing-sending-sink-'));
  chmodSync(dir, 0o777); // smtp-sink writes as nobody when started by root
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(
    postfixProgram('smtp-sink'),
    [...(asRoot ? ['-u', 'nobody'] : []), '-d', `${dir}/msg.`, ...flags, `${host}:${port}`, '64'],
    { env: postfixEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 5000;
  while (!(await canConnect(host, port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`smtp-sink did not listen on ${host}:${port}: ${output}`);
    }
    await new Promise((done) => setTimeout(done, 20));
  }
  // A dump file is complete once smtp-sink closed it; the end of data is the last thing written.
  const messages = () =>
    (existsSync(dir) ? readdirSync(dir).sort() : [])
      .map((file) => readFileSync(join(dir, file), 'latin1'))
      .filter((text) => /\n\n/.test(text))
      .map((text) => text.replace(/\r?\n/g, '\r\n'));
  return {
    host,
    port,
    messages,
    async waitForMessages(count, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = messages();
        if (found.length >= count) return found;
        if (Date.now() > end)
          throw new Error(`${found.length} of ${count} messages at sink ${host}:${port}; ${output}`);
        await new Promise((done) => setTimeout(done, 50));
      }
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The message of a dumped transaction: without smtp-sink's X-Client-*, X-Helo-*, X-Mail-*, X-Rcpt-* lines. */
export function dumpedMessage(dump: string): string {
  return dump.replace(/^(?:X-(?:Client|Helo|Mail|Rcpt)[A-Za-z-]*:.*\r\n)+/, '');
}
