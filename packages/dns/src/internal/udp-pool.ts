import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { ServerAddress } from './servers';

// A socket per query costs a bind, a connect and a close each time; sharing one per server is ~2x faster.
// RFC 5452 4 wants the source port unpredictable too, so a socket serves a bounded number of queries and
// is then replaced by one on a fresh random port, as c-ares does with `udp_max_queries`.
const QUERIES_PER_SOCKET = 100;
const IDLE_CLOSE_MS = 1000;

/** Receives the datagrams whose id matches, or the socket's error. */
export interface PendingQuery {
  onMessage(message: Buffer, port: number): void;
  onError(error: NodeJS.ErrnoException): void;
}

// Query ids come from a buffer of random octets refilled in bulk: one crypto call per 2048 ids, not per query.
const randomIds = Buffer.alloc(4096);
let randomOffset = randomIds.length;

function randomId(): number {
  if (randomOffset >= randomIds.length) {
    randomFillSync(randomIds);
    randomOffset = 0;
  }
  const id = randomIds.readUInt16BE(randomOffset);
  randomOffset += 2;
  return id;
}

class Channel {
  readonly socket: Socket;
  readonly pending = new Map<number, PendingQuery>();
  readonly ready: Promise<void>;
  connected = false;
  used = 0;
  closed = false;
  #idle: NodeJS.Timeout | undefined;

  constructor(
    readonly server: ServerAddress,
    private readonly onClose: (channel: Channel) => void,
  ) {
    this.socket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
    // Open sockets must not keep the process alive; each pending query holds a timer that does.
    this.socket.unref();
    this.socket.on('message', (message, remote) => {
      if (message.length < 12) return;
      this.pending.get(message.readUInt16BE(0))?.onMessage(message, remote.port);
    });
    this.socket.on('error', (error) => this.fail(error as NodeJS.ErrnoException));
    // A connected socket only receives datagrams from the server's address (RFC 5452 9.1: check the source).
    this.ready = new Promise((resolve) =>
      this.socket.connect(server.port, server.host, () => {
        this.connected = true;
        resolve();
      }),
    );
  }

  /**
   * Sends one query. A send error (ECONNREFUSED after an ICMP port unreachable, ENETUNREACH...) is about the
   * server's address, which every query on this connected socket shares, so it fails them all, as the socket's
   * 'error' event does; one shared callback, rather than a closure per query.
   */
  send(query: Buffer): void {
    this.socket.send(query, this.#afterSend);
  }

  readonly #afterSend = (error: Error | null): void => {
    if (error) this.fail(error as NodeJS.ErrnoException);
  };

  fail(error: NodeJS.ErrnoException): void {
    for (const query of [...this.pending.values()]) query.onError(error);
    this.close();
  }

  /** Registers a query under an id unused on this socket and returns that id. */
  add(query: PendingQuery): number {
    clearTimeout(this.#idle);
    let id = randomId();
    while (this.pending.has(id)) id = randomId();
    this.pending.set(id, query);
    this.used++;
    return id;
  }

  remove(id: number): void {
    this.pending.delete(id);
    if (this.pending.size > 0) return;
    if (this.used >= QUERIES_PER_SOCKET) this.close();
    else {
      this.#idle = setTimeout(() => this.close(), IDLE_CLOSE_MS);
      this.#idle.unref();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#idle);
    this.onClose(this);
    this.socket.close();
  }
}

/** UDP sockets to DNS servers, one in use per server at a time, each replaced after a bounded number of queries. */
export class UdpPool {
  readonly #current = new Map<string, Channel>();

  /** A socket to send one query to `server` on, with its id chosen so that no other pending query shares it. */
  acquire(server: ServerAddress, query: PendingQuery): { channel: Channel; id: number } {
    const key = `${server.host}|${server.port}`;
    let channel = this.#current.get(key);
    if (channel === undefined || channel.closed || channel.used >= QUERIES_PER_SOCKET) {
      channel = new Channel(server, (closed) => {
        if (this.#current.get(key) === closed) this.#current.delete(key);
      });
      this.#current.set(key, channel);
    }
    return { channel, id: channel.add(query) };
  }
}

export type { Channel as UdpChannel };
