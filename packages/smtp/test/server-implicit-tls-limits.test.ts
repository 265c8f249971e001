// Port 465 (RFC 8314 implicit TLS): the connection limits count a connection from its TCP
// accept, not from the end of its handshake, so clients that never finish a handshake cannot
// hold more than their share of sockets.
import { connect as connectNet, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { certificateFiles } from '@homing/test-peers';
import { afterEach, expect, it } from 'vitest';
import { createServer, type SmtpServer } from '../src/server';

const servers: SmtpServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

async function start(limits: { maxConnections: number; maxConnectionsPerIp: number }) {
  const { key, cert } = certificateFiles();
  const server = createServer({ hostname: 'mx.test', tls: { key, cert }, limits });
  servers.push(server);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, implicitTls: true });
  return port;
}

/** A TCP connection that never starts its handshake; resolves once connected. */
function silent(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectNet({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    sockets.push(socket);
    socket.once('error', reject);
  });
}

/** A TLS client: its greeting, or `dropped` when the server ends the connection without one. */
function greeting(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    // tls.connect passes net's options (localAddress) on to the TCP connect; its types do not list them.
    const options = { host: '127.0.0.1', port, localAddress, rejectUnauthorized: false };
    const socket = connectTls(options);
    sockets.push(socket);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\r\n')) resolve(text.trim());
    });
    socket.once('error', () => resolve('dropped'));
    socket.once('close', () => resolve(text === '' ? 'dropped' : text.trim()));
  });
}

const settle = () => new Promise((r) => setTimeout(r, 100));

it('counts connections still in their handshake against the per-address limit', async () => {
  const port = await start({ maxConnections: 100, maxConnectionsPerIp: 2 });
  await silent(port, '127.0.0.1');
  await silent(port, '127.0.0.1');
  await settle();
  expect(await greeting(port, '127.0.0.1')).toBe('dropped');
  // Another address is not affected...
  expect(await greeting(port, '127.0.0.2')).toMatch(/^220 /);
  // ...and the slots come back when the silent connections close.
  for (const socket of sockets.splice(0, 2)) socket.destroy();
  await settle();
  expect(await greeting(port, '127.0.0.1')).toMatch(/^220 /);
});

it('counts connections still in their handshake against the total limit', async () => {
  const port = await start({ maxConnections: 3, maxConnectionsPerIp: 100 });
  for (const address of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) await silent(port, address);
  await settle();
  expect(await greeting(port, '127.0.0.6')).toBe('dropped');
  sockets[0]!.destroy();
  await settle();
  expect(await greeting(port, '127.0.0.6')).toMatch(/^220 /);
});
