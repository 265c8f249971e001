// The MTA-STS policy over HTTPS (RFC 8461 3.3): `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`
// for each of our domains, with the ACME certificate (which names every `mta-sts.DOMAIN`).
// Anything else is a 404; a new certificate applies to the next handshake.
import { createServer } from 'node:https';
import type { Config, ListenAddress } from '../../config/config-types';
import { listenHttp } from '../http-listeners';
import type { EventLog } from '../observability/observability-types';
import { policyDomain, renderMtaStsPolicy } from './mta-sts-policy';

/** The running policy server. */
export interface MtaStsServer {
  readonly addresses: ListenAddress[];
  setTls(tls: { key: Buffer; cert: Buffer }): void;
  close(): Promise<void>;
}

const POLICY_PATH = '/.well-known/mta-sts.txt';

/** Listens on each of `addresses`, serving the policy of `config()` (read per request, so a reload applies). */
export async function startMtaStsServer(options: {
  addresses: readonly ListenAddress[];
  tls: { key: Buffer; cert: Buffer };
  config: () => Config;
  log: EventLog;
}): Promise<MtaStsServer> {
  const handler = (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => {
    const config = options.config();
    const domain = policyDomain(request.headers.host, config.domains);
    const path = (request.url ?? '').split('?')[0];
    const acme = config.tls.acme;
    if (
      domain === undefined ||
      path !== POLICY_PATH ||
      acme === undefined ||
      !['GET', 'HEAD'].includes(request.method ?? '')
    ) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    options.log.event(options.log.runId, 'mta-sts', 'policy-served', {
      domain,
      from: request.socket.remoteAddress ?? '',
    });
    // RFC 8461 3.3: media type text/plain; no redirects, so this is the final answer.
    response
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'max-age=300' })
      .end(renderMtaStsPolicy(acme.mtaSts, config.hostname));
  };
  const listeners = await listenHttp(
    options.addresses,
    () => createServer({ key: options.tls.key, cert: options.tls.cert }, handler),
    'MTA-STS',
  );
  return {
    addresses: listeners.addresses,
    setTls(tls) {
      for (const server of listeners.servers) server.setSecureContext({ key: tls.key, cert: tls.cert });
    },
    close: listeners.close,
  };
}
