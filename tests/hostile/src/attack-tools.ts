// Building blocks of the resource-abuse cases: many raw connections from many loopback source
// addresses, dripping bytes, and large bodies generated as they are written (never in memory).
import { connect, type Socket } from 'node:net';

/** A raw connection and its first reply line (the greeting, or a 421). */
export interface RawConnection {
  socket: Socket;
  greeting: Promise<string>;
  /** Everything the server sent so far. */
  received(): string;
  closed: Promise<void>;
}

/** Opens a raw TCP connection from `localAddress`; `greeting` resolves with the first line or 'closed'. */
export function rawConnect(port: number, localAddress: string): RawConnection {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  let text = '';
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  const greeting = new Promise<string>((resolve) => {
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    socket.once('close', () => resolve('closed'));
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, greeting, received: () => text, closed };
}

/** The n-th loopback address of a /24 (`127.B.C.n`), for many distinct client addresses. */
export function loopback(b: number, c: number, n: number): string {
  return `127.${b}.${c}.${n}`;
}

/** Writes `text` one byte every `intervalMs` until `signal` aborts (or the socket closes). */
export async function drip(socket: Socket, text: string, intervalMs: number, signal: AbortSignal): Promise<void> {
  for (let i = 0; !signal.aborted && !socket.destroyed; i = (i + 1) % text.length) {
    socket.write(text[i]!, 'latin1');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Writes `total` octets made by `line(i)` (each line with its CRLF) with back-pressure, then
 * `tail`; resolves the octets written before the socket closed or `stop()` said so.
 */
export async function stream(
  socket: Socket,
  total: number,
  line: (i: number) => string,
  tail = '',
  stop: () => boolean = () => false,
): Promise<number> {
  let written = 0;
  let i = 0;
  while (written < total && !socket.destroyed && !stop()) {
    let batch = '';
    while (batch.length < 256 * 1024 && written + batch.length < total) batch += line(i++);
    written += batch.length;
    const ok = socket.write(batch, 'latin1');
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.removeListener('drain', done);
          socket.removeListener('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  if (!socket.destroyed && tail !== '') socket.write(tail, 'latin1');
  return written;
}

/** Resolves when `text()` matches or the socket closes or `timeoutMs` passes; resolves what was seen. */
export async function waitFor(
  connection: RawConnection,
  pattern: RegExp,
  timeoutMs: number,
): Promise<'matched' | 'closed' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  let closed = false;
  void connection.closed.then(() => {
    closed = true;
  });
  for (;;) {
    if (pattern.test(connection.received())) return 'matched';
    if (closed) return 'closed';
    if (Date.now() > deadline) return 'timeout';
    await new Promise((r) => setTimeout(r, 20));
  }
}
