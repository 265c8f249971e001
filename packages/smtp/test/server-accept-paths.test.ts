import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Logger, type SmtpServer } from '../src/server';
import { fastAcceptKnownToWork } from '../src/server/fast-accept';
import { LineClient } from './helpers/line-client';

// Issue 11 item 6: whichever accept path a plain listener takes, Node's own instruments see every
// connection: getConnections(), the 'connection' event and the net.server.socket channel.

const servers: SmtpServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

async function start(fastAccept: boolean | undefined, logger?: Logger) {
  const server = createServer({ hostname: 'mx.test', fastAccept, logger });
  servers.push(server);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, port, listener: server.netServers[0]! };
}

async function open(port: number) {
  const client = await LineClient.open(port);
  clients.push(client);
  expect(await client.reply()).toBe('220 mx.test ESMTP ready\r\n');
  return client;
}

const connections = (server: { getConnections(cb: (error: Error | null, count: number) => void): void }) =>
  new Promise<number>((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

const settle = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 300 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
};

describe.each([
  { fastAccept: true, path: 'fast' },
  { fastAccept: false, path: 'node' },
])('plain listener with fastAccept: $fastAccept', ({ fastAccept, path }) => {
  it(`takes the ${path} accept path`, async () => {
    const { server } = await start(fastAccept);
    expect(server.acceptPath).toBe(path);
  });

  it('getConnections() counts open connections and forgets closed ones', async () => {
    const { server, port, listener } = await start(fastAccept);
    const a = await open(port);
    const b = await open(port);
    expect(await connections(listener)).toBe(2);
    expect(server.stats().connections).toBe(2);
    expect(await a.command('QUIT')).toBe('221 2.0.0 Bye\r\n');
    b.close();
    await settle(async () => (await connections(listener)) === 0);
    expect(await connections(listener)).toBe(0);
    expect(server.stats().connections).toBe(0);
  });

  it("emits the listener's 'connection' event once per connection, and still serves it once", async () => {
    const { port, listener } = await start(fastAccept);
    const seen: Socket[] = [];
    listener.on('connection', (socket: Socket) => seen.push(socket));
    const a = await open(port);
    const b = await open(port);
    expect(seen).toHaveLength(2);
    expect(seen.map((socket) => socket.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1']);
    // One session per connection: a second accept would greet twice or answer twice.
    expect(await a.command('NOOP')).toBe('250 2.0.0 OK\r\n');
    expect(await b.command('NOOP')).toBe('250 2.0.0 OK\r\n');
  });

  it('publishes each connection on the net.server.socket diagnostics channel', async () => {
    const { port } = await start(fastAccept);
    const published: number[] = [];
    const onMessage = (message: unknown) => {
      const socket = (message as { socket: Socket }).socket;
      if (socket.localPort === port) published.push(socket.remotePort ?? 0);
    };
    subscribe('net.server.socket', onMessage);
    try {
      const a = await open(port);
      await open(port);
      expect(published).toHaveLength(2);
      expect(published).toContain(a.socket.localPort);
    } finally {
      unsubscribe('net.server.socket', onMessage);
    }
  });
});

describe('the fast accept path', () => {
  it('is on by default on the Node majors it is known to work on, and only there', async () => {
    const { server } = await start(undefined);
    expect(server.acceptPath).toBe(fastAcceptKnownToWork() ? 'fast' : 'node');
    expect(fastAcceptKnownToWork('20.18.0')).toBe(true);
    expect(fastAcceptKnownToWork('22.1.0')).toBe(true);
    expect(fastAcceptKnownToWork('24.0.0')).toBe(true);
    expect(fastAcceptKnownToWork('26.0.0')).toBe(false);
    expect(fastAcceptKnownToWork('21.7.0')).toBe(false);
  });

  it("falls back to Node's own path when making a socket from the handle throws", async () => {
    const logged: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (_object, message) => logged.push(message ?? ''),
    };
    const { server, port, listener } = await start(true, logger);
    const handle = (listener as unknown as { _handle: { onconnection: (status: number, h: unknown) => void } })._handle;
    const ours = handle.onconnection;
    // A handle Node cannot make a socket of: our path throws, logs, and hands it to Node's path
    // (which throws the same way here, since the handle is not real).
    expect(() => ours.call(handle, 0, 1)).toThrow();
    expect(logged).toEqual(['smtp fast-accept-failed']);
    expect(handle.onconnection).not.toBe(ours);
    expect(server.acceptPath).toBe('node');
    // Real connections now take Node's path and are served and counted.
    const client = await open(port);
    expect(await client.command('NOOP')).toBe('250 2.0.0 OK\r\n');
    expect(await connections(listener)).toBe(1);
  });
});
