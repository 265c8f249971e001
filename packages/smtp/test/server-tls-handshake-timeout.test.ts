// limits.tlsHandshakeTimeoutMs: a TLS handshake, on an implicit-TLS listener (RFC 8314) or after
// STARTTLS (RFC 3207), has a deadline of its own for the whole handshake. A client that sends
// nothing and one that drips a real ClientHello a byte at a time are both cut at the limit (the
// socket closed, no reply possible, one `smtp tls-handshake-timeout` log line with the address),
// and their slot is given back; a normal handshake is not affected. Real sockets on loopback.
import { connect as connectNet, createServer as createNetServer, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { certificateFiles } from '@homing/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Logger, type SmtpServer } from '../src/server';

const LIMIT_MS = 400;
const servers: SmtpServer[] = [];
const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const timer of timers.splice(0)) clearInterval(timer);
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

const tls = certificateFiles();
// The first flight of a real TLS client (Node's own ClientHello), captured once.
let clientHello: Buffer;
beforeAll(async () => {
  clientHello = await new Promise<Buffer>((resolve, reject) => {
    const capture = createNetServer((socket) =>
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        capture.close();
      }),
    );
    capture.listen(0, '127.0.0.1', () => {
      const address = capture.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port'));
      connectTls({ host: '127.0.0.1', port: address.port, rejectUnauthorized: false }).on('error', () => {});
    });
  });
  expect(clientHello[0]).toBe(0x16); // a TLS handshake record
});

function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (fields: object, message?: string) =>
    lines.push({ message: message ?? '', fields: fields as Record<string, unknown> });
  const logger: Logger = { debug: record, info: record, warn: record, error: record };
  return { logger, timeouts: () => lines.filter((line) => line.message === 'smtp tls-handshake-timeout') };
}

async function start(options: { implicitTls: boolean; maxConnectionsPerIp?: number }) {
  const { logger, timeouts } = recordingLogger();
  const server = createServer({
    hostname: 'mx.test',
    tls: { key: tls.key, cert: tls.cert },
    limits: {
      tlsHandshakeTimeoutMs: LIMIT_MS,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? 20,
      // Idle and session limits far above the handshake limit: only the handshake limit can cut.
      idleTimeoutMs: 60_000,
    },
    logger,
  });
  servers.push(server);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, implicitTls: options.implicitTls });
  return { server, port, timeouts };
}

/** A TCP connection; on a STARTTLS port it reads the greeting, sends EHLO and STARTTLS, and resolves after the 220. */
function rawClient(port: number, starttls: boolean, localAddress = '127.0.0.1') {
  return new Promise<{ socket: Socket; closed: Promise<number> }>((resolve, reject) => {
    const socket = connectNet({ host: '127.0.0.1', port, localAddress });
    sockets.push(socket);
    socket.on('error', () => {});
    let since = 0;
    const closed = new Promise<number>((done) => socket.once('close', () => done(performance.now() - since)));
    if (!starttls) {
      socket.once('connect', () => {
        since = performance.now();
        resolve({ socket, closed });
      });
      return;
    }
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (/^220 [^\r]*\r\n$/m.test(text) && !text.includes('EHLO-sent')) {
        text += 'EHLO-sent';
        socket.write('EHLO client.test\r\nSTARTTLS\r\n');
      }
      if (/\r\n220 2\.0\.0[^\r]*\r\n/.test(text)) {
        socket.removeListener('data', onData);
        since = performance.now();
        resolve({ socket, closed });
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before the STARTTLS 220: ${text}`)));
  });
}

/** Writes the ClientHello one byte every 20 ms: it would take seconds to finish, far past the limit. */
function drip(socket: Socket): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= clientHello.length - 1 || socket.destroyed) return clearInterval(timer);
    socket.write(clientHello.subarray(sent, sent + 1));
    sent++;
  }, 20);
  timers.push(timer);
}

for (const mode of ['implicit', 'starttls'] as const) {
  describe(`a TLS handshake ${mode === 'implicit' ? 'on an implicit-TLS listener' : 'after STARTTLS'}`, () => {
    const implicitTls = mode === 'implicit';

    it('is cut at the limit when the client sends nothing, and logged with its address', async () => {
      const { port, timeouts } = await start({ implicitTls });
      const { closed } = await rawClient(port, !implicitTls);
      const after = await closed;
      expect(after).toBeGreaterThanOrEqual(LIMIT_MS - 50);
      // Within the limit plus two sweeps (one a second at most) and load: far under Node's 120 s.
      expect(after).toBeLessThan(LIMIT_MS + 5000);
      await expect.poll(() => timeouts().length).toBe(1);
      expect(timeouts()[0]!.fields).toMatchObject({ address: '127.0.0.1', tls: mode, timeout_ms: LIMIT_MS });
      expect(timeouts()[0]!.fields.id).toMatch(/^[0-9a-f]{16}$/);
    });

    it('is cut at the limit when the client drips its ClientHello a byte at a time', async () => {
      const { port, timeouts } = await start({ implicitTls });
      const { socket, closed } = await rawClient(port, !implicitTls);
      drip(socket);
      const after = await closed;
      expect(after).toBeGreaterThanOrEqual(LIMIT_MS - 50);
      expect(after).toBeLessThan(LIMIT_MS + 5000);
      await expect.poll(() => timeouts().length).toBe(1);
      expect(timeouts()[0]!.fields).toMatchObject({ address: '127.0.0.1', tls: mode });
    });

    it('gives the slot back when it cuts a handshake', async () => {
      const { port } = await start({ implicitTls, maxConnectionsPerIp: 1 });
      const { closed } = await rawClient(port, !implicitTls, '127.0.0.9');
      await closed;
      // The one slot of 127.0.0.9 is free again: a real client gets its session.
      const session = await tlsSession(port, implicitTls, '127.0.0.9');
      expect(session.greeting).toMatch(/^220 /);
    });

    it('does not affect a normal handshake, nor the session after it', async () => {
      const { port, timeouts } = await start({ implicitTls });
      const session = await tlsSession(port, implicitTls);
      // Well past the handshake limit, the session under TLS goes on.
      await new Promise((r) => setTimeout(r, LIMIT_MS * 3));
      expect(await session.command('NOOP')).toMatch(/^250 /);
      expect(timeouts()).toEqual([]);
    });
  });
}

/** A client that does its handshake at once (implicit, or after STARTTLS) and then talks SMTP under TLS. */
async function tlsSession(port: number, implicitTls: boolean, localAddress = '127.0.0.1') {
  let socket: Socket | TLSSocket;
  let text = '';
  const waiters: ((reply: string) => void)[] = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString('latin1');
    const match = /^(?:\d{3}-[^\r]*\r\n)*\d{3} [^\r]*\r\n/.exec(text);
    if (match) {
      text = text.slice(match[0].length);
      waiters.shift()?.(match[0]);
    }
  };
  const next = () => new Promise<string>((resolve) => waiters.push(resolve));
  let greeting: string;
  if (implicitTls) {
    socket = connectTls({ host: '127.0.0.1', port, localAddress, rejectUnauthorized: false } as never);
    socket.on('data', onData);
    greeting = await next();
  } else {
    const plain = connectNet({ host: '127.0.0.1', port, localAddress });
    plain.on('data', onData);
    greeting = await next();
    plain.write('EHLO client.test\r\n');
    await next();
    plain.write('STARTTLS\r\n');
    expect(await next()).toMatch(/^220 /);
    plain.removeListener('data', onData);
    socket = connectTls({ socket: plain, rejectUnauthorized: false });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.on('data', onData);
  }
  sockets.push(socket);
  socket.on('error', () => {});
  return {
    greeting,
    command: (line: string) => {
      socket.write(`${line}\r\n`);
      return next();
    },
  };
}
