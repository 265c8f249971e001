// The HTTPS fetcher of MTA-STS policies (RFC 8461 3.3): certificate checked for the host name,
// no redirects, a size and time limit. Tests pass a CA and a lookup that maps the host to loopback.

import { request } from 'node:https';
import type { LookupFunction } from 'node:net';
import { MtaStsError } from './mta-sts-error';

/** What a fetcher gives back. */
export interface MtaStsFetchResponse {
  status: number;
  contentType?: string;
  body: string;
}

/** Fetches one URL over HTTPS; injectable into getMtaStsPolicy. */
export type MtaStsFetcher = (url: string, options: { signal?: AbortSignal }) => Promise<MtaStsFetchResponse>;

/** Options of createHttpsFetcher. */
export interface HttpsFetcherOptions {
  /** Trusted CA certificates (PEM) instead of Node's bundle, e.g. a test CA. */
  ca?: string | string[];
  /** Host name lookup, e.g. one mapping mta-sts.example.com to 127.0.0.1 in tests. */
  lookup?: LookupFunction;
  /** Port to connect to (default 443). */
  port?: number;
  /** Whole-request time limit in ms (default 10000). */
  timeoutMs?: number;
  /** Largest body accepted, in bytes (default 65536, RFC 8461 3.3 suggests a limit). */
  maxBytes?: number;
}

/** Creates the default HTTPS fetcher. Failures reject with MtaStsError MTA_STS_FETCH. */
export function createHttpsFetcher(options: HttpsFetcherOptions = {}): MtaStsFetcher {
  const maxBytes = options.maxBytes ?? 65_536;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return (url, { signal } = {}) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const fail = (message: string, cause?: unknown) =>
        reject(new MtaStsError('MTA_STS_FETCH', `${url}: ${message}`, { cause }));
      const req = request(
        {
          host: target.hostname,
          servername: target.hostname,
          port: options.port ?? (target.port ? Number(target.port) : 443),
          path: target.pathname,
          method: 'GET',
          ca: options.ca,
          lookup: options.lookup,
          // RFC 8461 3.3: the certificate must be valid for the policy host (Node checks the name).
          rejectUnauthorized: true,
          timeout: timeoutMs,
          signal,
          headers: { 'user-agent': 'homing-mta-sts', accept: 'text/plain' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              req.destroy();
              fail(`the policy is larger than ${maxBytes} bytes`);
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'],
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', (error) => fail(error.message, error));
        },
      );
      req.on('timeout', () => {
        req.destroy();
        fail(`no answer within ${timeoutMs} ms`);
      });
      req.on('error', (error) => fail(error.message, error));
      req.end();
    });
}
