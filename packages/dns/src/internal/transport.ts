import { connect } from 'node:net';
import * as packet from 'dns-packet';
import { DnsError } from '../dns-error';
import { sameName } from './name';
import type { ServerAddress } from './servers';
import type { UdpPool } from './udp-pool';

/** What one exchange with one server needs. */
export interface Exchange {
  server: ServerAddress;
  id: number;
  name: string;
  type: string;
  query: Buffer;
  timeoutMs: number;
  logger?: { debug?: (object: object, message?: string) => void } | undefined;
}

/** A decoded response, with the fields dns-packet sets that its types leave out. */
export type Response = packet.DecodedPacket & { rcode?: string };

/** A resource record as dns-packet decodes it. */
export interface WireRecord {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  data?: unknown;
}

const MAX_TCP_RESPONSE = 65_535 + 2;

/**
 * Decodes a datagram and says whether it answers our question: same id, a response, and the same question
 * (RFC 5452 9.1: id, question and source must all match, otherwise the answer may be spoofed).
 */
function matchResponse(exchange: Exchange, bytes: Buffer): Response | 'malformed' | 'foreign' {
  if (bytes.length < 12 || bytes.readUInt16BE(0) !== exchange.id) return 'foreign';
  let decoded: Response;
  try {
    decoded = packet.decode(bytes);
  } catch {
    return 'malformed';
  }
  const question = decoded.questions?.[0];
  if (decoded.type !== 'response' || decoded.questions?.length !== 1 || question === undefined) return 'foreign';
  if (!sameName(question.name, exchange.name) || question.type !== exchange.type) return 'foreign';
  if (question.class !== undefined && question.class !== 'IN') return 'foreign';
  return decoded;
}

function timeoutError(exchange: Exchange, why: string): DnsError {
  return new DnsError(
    'TIMEOUT',
    `no answer for ${exchange.name} ${exchange.type} from ${exchange.server.host}:${exchange.server.port} ${why}`,
    { hostname: exchange.name, type: exchange.type },
  );
}

function malformedError(exchange: Exchange): DnsError {
  return new DnsError(
    'FORMERR',
    `the answer for ${exchange.name} ${exchange.type} from ${exchange.server.host}:${exchange.server.port} is malformed`,
    { hostname: exchange.name, type: exchange.type },
  );
}

/**
 * Sends the query over UDP on a pooled socket (see udp-pool.ts) under a fresh random id, and waits for the answer.
 * The query's id octets are rewritten with the id the socket hands out.
 */
export function exchangeUdp(exchange: Exchange, pool: UdpPool): Promise<Response> {
  return new Promise((resolve, reject) => {
    let sawMalformed = false;
    let done = false;
    const finish = (error: Error | undefined, response?: Response): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      channel.remove(id);
      if (error) reject(error);
      else resolve(response as Response);
    };
    const { channel, id } = pool.acquire(exchange.server, {
      onError: (error) => finish(timeoutError(exchange, `(${error.code})`)),
      onMessage: (message, port) => {
        if (port !== exchange.server.port) return;
        const result = matchResponse(exchange, message);
        if (result === 'malformed') {
          // Keep waiting: a forged garbage packet must not end the lookup; report it only if nothing better comes.
          sawMalformed = true;
          return;
        }
        if (result === 'foreign') {
          exchange.logger?.debug?.(
            { name: exchange.name, type: exchange.type, server: `${exchange.server.host}:${exchange.server.port}` },
            'dns ignored an answer that does not match the query',
          );
          return;
        }
        finish(undefined, result);
      },
    });
    exchange.id = id;
    exchange.query.writeUInt16BE(id, 0);
    const timer = setTimeout(
      () => finish(sawMalformed ? malformedError(exchange) : timeoutError(exchange, `within ${exchange.timeoutMs} ms`)),
      exchange.timeoutMs,
    );
    const send = (): void => {
      if (done) return;
      channel.socket.send(exchange.query, (error) => {
        if (error) finish(timeoutError(exchange, `(${(error as NodeJS.ErrnoException).code})`));
      });
    };
    if (channel.connected) send();
    else channel.ready.then(send);
  });
}

/** Sends the query over TCP (RFC 1035 4.2.2, two-octet length prefix), as after a truncated UDP answer. */
export function exchangeTcp(exchange: Exchange): Promise<Response> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: exchange.server.host, port: exchange.server.port });
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | undefined, response?: Response): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response as Response);
    };
    const timer = setTimeout(
      () => finish(timeoutError(exchange, `over TCP within ${exchange.timeoutMs} ms`)),
      exchange.timeoutMs,
    );
    socket.on('error', (error) =>
      finish(timeoutError(exchange, `over TCP (${(error as NodeJS.ErrnoException).code})`)),
    );
    socket.on('close', () => finish(timeoutError(exchange, 'over TCP (connection closed)')));
    socket.on('connect', () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(exchange.query.length);
      socket.write(Buffer.concat([prefix, exchange.query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) {
          if (buffered.length > MAX_TCP_RESPONSE) finish(malformedError(exchange));
          return;
        }
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        const result = matchResponse(exchange, message);
        if (result === 'malformed') return finish(malformedError(exchange));
        if (result !== 'foreign') return finish(undefined, result);
      }
    });
  });
}
