// The http-01 responder (RFC 8555 8.3): plain HTTP on port 80 answering
// `/.well-known/acme-challenge/TOKEN` with the key authorization, and 404 for anything else.
import { createServer } from 'node:http';
import type { ListenAddress } from '../../config/config-types';
import { listenHttp } from '../http-listeners';

/** The running responder; challenges are set and removed while an order is open. */
export interface HttpChallengeServer {
  readonly addresses: ListenAddress[];
  set(token: string, keyAuthorization: string): void;
  remove(token: string): void;
  close(): Promise<void>;
}

const PREFIX = '/.well-known/acme-challenge/';
// RFC 8555 8.1: a token is base64url, at least 128 bits of entropy; nothing longer is ours.
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/** Listens on each address; `onRequest` hears every challenge fetch (the CA's validation). */
export async function startHttpChallengeServer(
  addresses: readonly ListenAddress[],
  onRequest: (token: string, found: boolean, from: string) => void,
): Promise<HttpChallengeServer> {
  const challenges = new Map<string, string>();
  const handler = (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => {
    const path = (request.url ?? '').split('?')[0] ?? '';
    const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : undefined;
    const answer = token !== undefined && TOKEN.test(token) ? challenges.get(token) : undefined;
    if (token !== undefined) onRequest(token.slice(0, 64), answer !== undefined, request.socket.remoteAddress ?? '');
    if (answer === undefined || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
  };
  const listeners = await listenHttp(addresses, () => createServer(handler), 'ACME http-01');
  return {
    addresses: listeners.addresses,
    set: (token, keyAuthorization) => challenges.set(token, keyAuthorization),
    remove: (token) => challenges.delete(token),
    close: listeners.close,
  };
}
