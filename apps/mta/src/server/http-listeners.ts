// The small HTTP(S) servers beside SMTP (the ACME http-01 responder, the MTA-STS policy host):
// one node:http(s) server per configured address, short timeouts against slow clients, and all
// or nothing (a failed listen closes the ones already open).
import type { Server } from 'node:http';
import type { ListenAddress } from '../config/config-types';
import { formatListenAddress } from '../config/config-values';

/** The servers listening and the addresses they are bound to (port 0 resolved). */
export interface HttpListeners<S extends Server> {
  readonly servers: S[];
  readonly addresses: ListenAddress[];
  /** Closes every server, open connections included. */
  close(): Promise<void>;
}

/** Listens with a new server from `create()` on each address; `what` names the service in errors. */
export async function listenHttp<S extends Server>(
  addresses: readonly ListenAddress[],
  create: () => S,
  what: string,
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
      // A client gets 10 s for its headers and its request: these answer a few bytes.
      server.headersTimeout = 10_000;
      server.requestTimeout = 10_000;
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
