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
      this.socket.connect(server.port, server.host, () => {
        this.connected = true;
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
   * 'error' event does; one shared callback, rather than a closure per query.
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

/** Something that can time out. */
export interface Expiring {
  expire(): void;
}

/**
 * The timeouts of a resolver's queries. They all wait the same time, so they expire in the order they were
 * added: one timer for the oldest, instead of a timer object per query (which cost about as much as the rest
 * of a lookup's own JavaScript). Done queries are cancelled in place and skipped.
 */
export class DeadlineQueue {
  #items: (Expiring | undefined)[] = [];
  #deadlines: number[] = [];
  #head = 0;
  #base = 0; // the slot number of #items[0]
  #live = 0;
  #timer: NodeJS.Timeout | undefined;

  /** Expires `item` after `ms` unless cancelled; returns its slot for `cancel`. */
  add(item: Expiring, ms: number): number {
    const slot = this.#base + this.#items.length;
    this.#items.push(item);
    this.#deadlines.push(performance.now() + ms);
    // A pending query keeps the process alive, as a timer of its own would.
    if (this.#live++ === 0) this.#timer?.ref();
    this.#timer ??= setTimeout(this.#fire, ms);
    return slot;
  }

  cancel(slot: number): void {
    const index = slot - this.#base;
    if (index < this.#head || this.#items[index] === undefined) return;
    this.#items[index] = undefined;
    if (--this.#live === 0) this.#timer?.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      if (item !== undefined && (this.#deadlines[this.#head] as number) > now) break;
      this.#items[this.#head] = undefined;
      this.#head++;
      if (item !== undefined) {
        this.#live--;
        item.expire();
      }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#deadlines = this.#deadlines.slice(this.#head);
      this.#base += this.#head;
      this.#head = 0;
    }
    if (this.#head < this.#items.length) {
      this.#timer = setTimeout(this.#fire, Math.max(1, (this.#deadlines[this.#head] as number) - now));
      if (this.#live === 0) this.#timer.unref();
    } else {
      this.#items.length = 0;
      this.#deadlines.length = 0;
      this.#base += this.#head;
      this.#head = 0;
    }
  };
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
