// The HTTP(S) listeners beside SMTP (ACME http-01, MTA-STS, metrics) bound every wait of a client:
// a connection that sends nothing, a TLS handshake that never finishes, and a request dripped a
// byte at a time are all closed at the limit; a normal request, and a second one on the same
// kept-alive connection, are answered. Real sockets on loopback, a short limit.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as connectNet } from 'node:net';
import { certificateFiles } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpListeners, listenHttp } from '../src/server/http-listeners';

const LIMIT_MS = 500;
const open: HttpListeners<never>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

const tls = certificateFiles();
const handler = (_req: unknown, res: { end(text: string): void }) => res.end('ok\n');

async function start(kind: 'http' | 'https') {
  const create =
    kind === 'http'
      ? () => createHttpServer(handler)
      : () => createHttpsServer({ key: readFileSync(tls.keyPath), cert: readFileSync(tls.certPath) }, handler);
  const listeners = await listenHttp([{ host: '127.0.0.1', port: 0 }], create, `test ${kind}`, LIMIT_MS);
  open.push(listeners as HttpListeners<never>);
  return listeners.addresses[0]!.port;
}

/** A raw TCP client; `drip` writes one byte of it every 50 ms. Resolves how long the server kept it open. */
function heldFor(port: number, drip?: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connectNet({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    const since = performance.now();
    let timer: NodeJS.Timeout | undefined;
    if (drip !== undefined) {
      let i = 0;
      timer = setInterval(() => {
        if (i < drip.length) socket.write(drip[i++]!);
      }, 50);
    }
    // A server that never closes it fails the bound below, not the test's own timeout.
    const giveUp = setTimeout(() => socket.destroy(), LIMIT_MS + 4000);
    socket.once('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve(performance.now() - since);
    });
  });
}

// A request whose headers never end at a byte every 50 ms (each byte resets no timer of ours).
const DRIP = `GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost: mx.example.org\r\nX-Slow: ${'a'.repeat(200)}`;

describe('listenHttp', () => {
  for (const kind of ['http', 'https'] as const) {
    it(`closes a ${kind} connection that sends nothing at the limit`, async () => {
      const port = await start(kind);
      const held = await heldFor(port);
      expect(held).toBeGreaterThanOrEqual(LIMIT_MS - 50);
      expect(held).toBeLessThan(LIMIT_MS + 2000);
    });

    it(`closes a ${kind} connection that drips its ${kind === 'https' ? 'ClientHello' : 'request'} at the limit`, async () => {
      const port = await start(kind);
      // On https the bytes are not a ClientHello the server can finish: a handshake that never ends.
      const held = await heldFor(
        port,
        kind === 'https' ? `\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03${'r'.repeat(64)}` : DRIP,
      );
      expect(held).toBeGreaterThanOrEqual(LIMIT_MS - 50);
      expect(held).toBeLessThan(LIMIT_MS + 2000);
    });
  }

  it.each(['http', 'https'] as const)(
    'answers a normal %s request, and a second one on the kept-alive connection after the limit',
    async (kind) => {
      const port = await start(kind);
      const agent =
        kind === 'http'
          ? new HttpAgent({ keepAlive: true, maxSockets: 1 })
          : new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
      const request = kind === 'http' ? httpRequest : httpsRequest;
      const get = () =>
        new Promise<{ body: string; socket: unknown }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/', agent: agent as HttpAgent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ body, socket: req.socket }));
          });
          req.on('error', reject);
          req.end();
        });
      const first = await get();
      expect(first.body).toBe('ok\n');
      // Past the first-request limit, within Node's 5 s keep-alive: the same connection still serves.
      await new Promise((r) => setTimeout(r, LIMIT_MS + 300));
      const second = await get();
      expect(second.body).toBe('ok\n');
      expect(second.socket).toBe(first.socket);
      agent.destroy();
    },
  );
});
