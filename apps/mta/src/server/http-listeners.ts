// The small HTTP(S) servers beside SMTP (the ACME http-01 responder, the MTA-STS policy host, and
// the metrics listener through `boundHttpServer`): one node:http(s) server per configured address,
// short timeouts against slow clients, and all or nothing (a failed listen closes the ones
// already open).
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenAddress } from '../config/config-types';
import { formatListenAddress } from '../config/config-values';

/** The servers listening and the addresses they are bound to (port 0 resolved). */
export interface HttpListeners<S extends Server> {
  readonly servers: S[];
  readonly addresses: ListenAddress[];
  /** Closes every server, open connections included. */
  close(): Promise<void>;
}

/** How long a connection may take to deliver a whole request (its TLS handshake included): 10 s. */
export const HTTP_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Bounds every wait of a client on `server` to `timeoutMs` (call before `listen`): these servers
 * answer a few bytes, so a client that is slower than that is holding a socket. Node alone leaves
 * three waits open: a connection that sends nothing is never timed out (`headersTimeout` and
 * `requestTimeout` start at the first byte), a TLS handshake has 120 s (https), and the two
 * timeouts are checked only every 30 s (`connectionsCheckingInterval`, read at 'listening'). So:
 * from the TCP accept the first request must arrive (its headers complete) within `timeoutMs`,
 * whatever the client drips meanwhile, else the socket is closed; later requests on a kept-alive
 * connection have `headersTimeout` and `requestTimeout` of `timeoutMs`, checked every second, and
 * an idle kept-alive connection Node's 5 s `keepAliveTimeout`.
 */
export function boundHttpServer(server: Server, timeoutMs = HTTP_REQUEST_TIMEOUT_MS): void {
  server.headersTimeout = timeoutMs;
  server.requestTimeout = timeoutMs;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1000, timeoutMs);
  // Connections that have not delivered a request yet, by the client's address and port (the TCP
  // socket here, the TLS socket in a request of an https server: both give the same pair).
  const waiting = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  const keyOf = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    waiting.set(key, { socket, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      if (waiting.get(key)?.socket === socket) waiting.delete(key);
    });
  });
  server.on('request', (request: IncomingMessage) => {
    const key = keyOf(request.socket);
    const entry = waiting.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    waiting.delete(key);
  });
}

/** Listens with a new server from `create()` on each address; `what` names the service in errors. */
export async function listenHttp<S extends Server>(
  addresses: readonly ListenAddress[],
  create: () => S,
  what: string,
  timeoutMs = HTTP_REQUEST_TIMEOUT_MS,
): Promise<HttpListeners<S>> {
  const servers: S[] = [];
  const bound: ListenAddress[] = [];
  const close = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise((resolve) => {
            server.closeAllConnections();
            server.close(resolve);
          }),
      ),
    ).then(() => undefined);
  try {
    for (const address of addresses) {
      const server = create();
      boundHttpServer(server, timeoutMs);
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            new Error(`cannot listen for ${what} on ${formatListenAddress(address)}: ${error.code ?? error}`, {
              cause: error,
            }),
          ),
        );
        server.listen(address.port, address.host, () => resolve());
      });
      const info = server.address();
      bound.push({ host: address.host, port: typeof info === 'object' && info ? info.port : address.port });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { servers, addresses: bound, close };
}
