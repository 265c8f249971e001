import { connect } from 'node:net';
import { DnsError } from '../dns-error';
import type { Logger } from '../logger';
import type { Expiring } from './deadline-queue';
import { type Response, readResponse } from './read-response';
import type { ServerAddress } from './servers';
import type { PendingQuery, UdpChannel, UdpPool } from './udp-pool';

export type { Response } from './read-response';

/** What one exchange with one server needs. */
export interface Exchange {
  server: ServerAddress;
  id: number;
  name: string;
  type: string;
  query: Buffer;
  timeoutMs: number;
  logger?: Logger | undefined;
}

const MAX_TCP_RESPONSE = 65_535 + 2;

/**
 * Reads a message and says whether it answers our question: same id, a response, and the same question
 * (RFC 5452 9.1: id, question and source must all match, otherwise the answer may be spoofed).
 */
function matchResponse(exchange: Exchange, bytes: Buffer): Response | 'malformed' | 'foreign' {
  return readResponse(bytes, exchange.query, exchange.name);
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

/** Where a UDP exchange reports: once, with the answer or with the error that ended it. */
export interface UdpSink {
  answered(response: Response): void;
  failed(error: DnsError): void;
}

/**
 * Sends the query over UDP on a pooled socket (see udp-pool.ts) under a fresh random id, and reports to `sink`.
 * The query's id octets are rewritten with the id the socket hands out. A callback rather than a Promise: the
 * resolver's first try reports straight to the question it asks (see question.ts), one Promise less per lookup.
 */
export function sendUdp(exchange: Exchange, pool: UdpPool, sink: UdpSink): void {
  const pending = new PendingUdpQuery(exchange, sink);
  const channel = pool.acquire(exchange.server);
  const id = channel.add(pending);
  pending.channel = channel;
  pending.id = id;
  exchange.id = id;
  exchange.query.writeUInt16BE(id, 0);
  pending.pool = pool;
  pool.deadlines.add(pending, exchange.timeoutMs);
  if (channel.connected) channel.send(exchange.query);
  else channel.ready.then(() => pending.done || channel.send(exchange.query));
}

/** `sendUdp` as a Promise, for the retries. */
export function exchangeUdp(exchange: Exchange, pool: UdpPool): Promise<Response> {
  return new Promise((resolve, reject) => sendUdp(exchange, pool, { answered: resolve, failed: reject }));
}

/** One query waiting on a UDP channel for its answer, its timeout, or the socket's error. */
class PendingUdpQuery implements PendingQuery, Expiring {
  channel: UdpChannel | undefined;
  id = 0;
  pool: UdpPool | undefined;
  // The DeadlineQueue's links (see Expiring).
  deadline = 0;
  newer: Expiring | undefined;
  older: Expiring | undefined;
  queued = false;
  done = false;
  sawMalformed = false;

  constructor(
    readonly exchange: Exchange,
    readonly sink: UdpSink,
  ) {}

  onMessage(message: Buffer, port: number): void {
    const exchange = this.exchange;
    if (port !== exchange.server.port) return;
    const result = matchResponse(exchange, message);
    if (result === 'malformed') {
      // Keep waiting: a forged garbage packet must not end the lookup; report it only if nothing better comes.
      this.sawMalformed = true;
      return;
    }
    if (result === 'foreign') {
      exchange.logger?.debug(
        { name: exchange.name, type: exchange.type, server: `${exchange.server.host}:${exchange.server.port}` },
        'dns ignored an answer that does not match the query',
      );
      return;
    }
    if (this.end()) this.sink.answered(result);
  }

  onError(error: NodeJS.ErrnoException): void {
    if (this.end()) this.sink.failed(timeoutError(this.exchange, `(${error.code})`));
  }

  expire(): void {
    const exchange = this.exchange;
    if (!this.end()) return;
    this.sink.failed(
      this.sawMalformed ? malformedError(exchange) : timeoutError(exchange, `within ${exchange.timeoutMs} ms`),
    );
  }

  /** Stops waiting; false when it had already stopped. */
  private end(): boolean {
    if (this.done) return false;
    this.done = true;
    const pool = this.pool;
    if (pool !== undefined) {
      pool.deadlines.cancel(this);
      pool.kept.query = this;
    }
    this.channel?.remove(this.id);
    return true;
  }
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
