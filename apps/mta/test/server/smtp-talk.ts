// Clients for the end-to-end tests: a plain SMTP conversation over a real socket (one command
// at a time, every reply kept), and the real third-party clients swaks and Python's smtplib.
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One SMTP session, command by command. */
export interface Conversation {
  /** The greeting (first reply). */
  greeting: string;
  /** Sends a line (CRLF added) and resolves with the whole reply (lines joined by \n). */
  send(line: string): Promise<string>;
  /** Sends raw bytes and resolves with the next reply. */
  sendRaw(data: string | Buffer): Promise<string>;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  socket: Socket;
  close(): void;
}

/** Opens a session to 127.0.0.1:port, optionally from another loopback source address. */
export function converse(port: number, localAddress?: string): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let buffer = '';
    const pending: { resolve: (reply: string) => void; reject: (error: Error) => void }[] = [];
    let ended = false;
    const closed = new Promise<void>((done) =>
      socket.once('close', () => {
        ended = true;
        // Whoever still waits for a reply learns that none will come.
        for (const waiter of pending.splice(0)) waiter.reject(new Error('the server closed the connection'));
        done();
      }),
    );
    const replies: string[] = [];
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        // A reply ends with a line "NNN text" (a space after the code, RFC 5321 4.2.1).
        const match = /^(?:\d{3}-.*\r\n)*\d{3}(?: .*)?\r\n/.exec(buffer);
        if (!match) break;
        buffer = buffer.slice(match[0].length);
        const reply = match[0].trimEnd().split('\r\n').join('\n');
        const waiter = pending.shift();
        if (waiter) waiter.resolve(reply);
        else replies.push(reply);
      }
    });
    socket.once('error', reject);
    const next = () =>
      new Promise<string>((done, fail) => {
        const ready = replies.shift();
        if (ready !== undefined) done(ready);
        else if (ended) fail(new Error('the server closed the connection'));
        else pending.push({ resolve: done, reject: fail });
      });
    next().then(
      (greeting) =>
        resolve({
          greeting,
          send: (line) => {
            socket.write(`${line}\r\n`);
            return next();
          },
          sendRaw: (data) => {
            socket.write(data);
            return next();
          },
          closed,
          socket,
          close: () => socket.destroy(),
        }),
      reject,
    );
  });
}

/** Runs swaks with the arguments; resolves its exit code and output (it never throws on exit code). */
export async function swaks(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('swaks', args, { timeout: 30_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** swaks sending from someone@sender.test to `to` on 127.0.0.1:port, with `extra` arguments after. */
export function swaksTo(port: number, to: string, extra: string[] = []): Promise<{ code: number; output: string }> {
  return swaks([
    '--server',
    '127.0.0.1',
    '--port',
    String(port),
    '--from',
    'someone@sender.test',
    '--to',
    to,
    ...extra,
  ]);
}

/** Runs a Python 3 script; resolves its stdout. */
export async function python(script: string, args: string[] = []): Promise<string> {
  const { stdout } = await run('python3', ['-c', script, ...args], { timeout: 30_000 });
  return stdout;
}
