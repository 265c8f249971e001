// The Prometheus scrape endpoint: `GET /metrics` on each `listen.metrics` address, node:http only.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../../config/config-types';
import { boundHttpServer } from '../http-listeners';
import type { Metrics } from './observability-types';

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  /** Where to listen (`listen.metrics`); port 0 picks a free port. */
  addresses: readonly ListenAddress[];
  metrics: Metrics;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The addresses bound, with the real port when 0 was asked. */
  readonly addresses: ListenAddress[];
  /** Stops listening and ends open scrapes. */
  close(): Promise<void>;
}

function handler(metrics: Metrics) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    metrics.render().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  };
}

function listen(server: Server, address: ListenAddress): Promise<ListenAddress> {
  const host = address.host.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const shown = host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
      reject(new Error(`cannot listen for metrics on ${shown}: ${error.code ?? error.message}`, { cause: error }));
    };
    server.once('error', fail);
    server.listen({ host, port: address.port }, () => {
      server.off('error', fail);
      const bound = server.address() as AddressInfo;
      resolve({ host: bound.address, port: bound.port });
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Serves `GET /metrics` (404 elsewhere) on each address; rejects, closing what it opened, if one fails. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const servers: Server[] = [];
  const addresses: ListenAddress[] = [];
  try {
    for (const address of options.addresses) {
      const server = createServer(handler(options.metrics));
      // A scraper that stalls (or a client that connects and sends nothing) must not hold a socket.
      boundHttpServer(server);
      servers.push(server);
      addresses.push(await listen(server, address));
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }
  return {
    addresses,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
