import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { DeadlineQueue } from './deadline-queue';
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

/**
 * The `lookup` of the pool's sockets. Servers are IP addresses (parseServer refuses names), so there is nothing to
 * resolve; dgram's default, dns.lookup, would answer an address too, but on a later tick, which makes each new
 * socket's bind and connect asynchronous. Called as dgram calls it: (address, family, callback).
 */
function literalLookup(
  address: string,
  family: unknown,
  callback: (error: Error | null, address: string, family: number) => void,
): void {
  callback(null, address, family === 6 ? 6 : 4);
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
    this.socket = createSocket({ type: server.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    // Open sockets must not keep the process alive; each pending query holds a timer that does.
    this.socket.unref();
    this.socket.on('message', (message, remote) => {
      if (message.length < 12) return;
      this.pending.get(message.readUInt16BE(0))?.onMessage(message, remote.port);
    });
    this.socket.on('error', (error) => this.fail(error as NodeJS.ErrnoException));
    // A connected socket only receives datagrams from the server's address (RFC 5452 9.1: check the source).
    this.ready = new Promise((resolve) =>
      this.socket.connect(server.port, server.host, (error?: Error) => {
        // A failed connect comes here, not as 'error' (dgram gives it to the callback): fail the queries.
        if (error) this.fail(error as NodeJS.ErrnoException);
        else this.connected = true;
        resolve();
      }),
    );
    // With literalLookup, bind and connect are done when connect() returns (dgram emits 'connect' on the next
    // tick): the first queries go out at once, not each after a `ready.then` callback of its own. remoteAddress()
    // throws while the socket is not connected (a connect that failed reports on 'error').
    try {
      this.socket.remoteAddress();
      this.connected = true;
    } catch {}
  }

  /**
   * Sends one query. A send error (ECONNREFUSED after an ICMP port unreachable, ENETUNREACH...) is about the
   * server's address, which every query on this connected socket shares, so it fails them all, as the socket's
   * 'error' event does; one shared callback, rather than a closure per query. (The callback costs a
   * process.nextTick per send; once the GC problems told in deadline-queue.ts and question.ts were fixed, sending
   * without it measured the same within the noise, so every send is watched and an error fails its queries at once.)
   */
  send(query: Buffer): void {
    this.socket.send(query, this.#afterSend);
  }

  readonly #afterSend = (error: Error | null): void => {
    if (error) this.fail(error as NodeJS.ErrnoException);
  };

  fail(error: NodeJS.ErrnoException): void {
    // Closed first: a query may retry from within onError, and must get a new socket, not this one.
    const queries = [...this.pending.values()];
    this.close();
    for (const query of queries) query.onError(error);
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
    if (this.pending.size > 0 || this.closed) return;
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
  readonly #current = new Map<ServerAddress, Channel>();
  /** The timeouts of the queries on this pool's sockets. */
  readonly deadlines = new DeadlineQueue();

  /** The socket to send the next query to `server` on; `add` the query to it to get its id. */
  acquire(server: ServerAddress): Channel {
    // Keyed by the address object: a resolver parses its servers once, so no key string is built per query.
    let channel = this.#current.get(server);
    if (channel === undefined || channel.closed || channel.used >= QUERIES_PER_SOCKET) {
      channel = new Channel(server, (closed) => {
        if (this.#current.get(server) === closed) this.#current.delete(server);
      });
      this.#current.set(server, channel);
    }
    return channel;
  }
}

export type { Channel as UdpChannel };
