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

// A socket serves at most QUERIES_PER_SOCKET queries, so its table of ids never fills beyond 100 of 256 slots.
const ID_SLOTS = 256;
const ID_MASK = ID_SLOTS - 1;

/**
 * The queries waiting on one socket, by id: open addressing with linear probing over a fixed table, deletion by
 * backward shift (no tombstones). Not a Map: V8 links each hash table a Map outgrows to the table that replaces
 * it, and a chain of those from a table that reached the old generation kept every query since alive through the
 * young-generation GCs (see InFlight in question.ts). Ids are random (randomId), so `id & ID_MASK` spreads them.
 */
export class QueriesById {
  readonly #ids = new Int32Array(ID_SLOTS).fill(-1);
  readonly #queries: (PendingQuery | undefined)[] = new Array(ID_SLOTS).fill(undefined);
  size = 0;

  get(id: number): PendingQuery | undefined {
    const ids = this.#ids;
    for (let slot = id & ID_MASK; ; slot = (slot + 1) & ID_MASK) {
      const held = ids[slot] as number;
      if (held === id) return this.#queries[slot];
      if (held === -1) return undefined;
    }
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds a query under an id not in the table. */
  set(id: number, query: PendingQuery): void {
    if (this.size >= QUERIES_PER_SOCKET) throw new Error('a UDP socket holds at most 100 queries');
    let slot = id & ID_MASK;
    while (this.#ids[slot] !== -1) slot = (slot + 1) & ID_MASK;
    this.#ids[slot] = id;
    this.#queries[slot] = query;
    this.size++;
  }

  delete(id: number): void {
    const ids = this.#ids;
    let hole = id & ID_MASK;
    while (ids[hole] !== id) {
      if (ids[hole] === -1) return;
      hole = (hole + 1) & ID_MASK;
    }
    // Move back each following entry of the run that may not stay behind the hole (its home is not in
    // (hole, slot]), so that every entry stays reachable from its home slot without a gap.
    for (let slot = (hole + 1) & ID_MASK; ids[slot] !== -1; slot = (slot + 1) & ID_MASK) {
      const home = (ids[slot] as number) & ID_MASK;
      if (((slot - home) & ID_MASK) >= ((slot - hole) & ID_MASK)) {
        ids[hole] = ids[slot] as number;
        this.#queries[hole] = this.#queries[slot];
        hole = slot;
      }
    }
    ids[hole] = -1;
    this.#queries[hole] = undefined;
    this.size--;
  }

  values(): PendingQuery[] {
    return this.#queries.filter((query) => query !== undefined);
  }
}

class Channel {
  readonly socket: Socket;
  readonly pending = new QueriesById();
  readonly ready: Promise<void>;
  connected = false;
  used = 0;
  closed = false;
  #idle: NodeJS.Timeout | undefined;

  constructor(
    readonly server: ServerAddress,
    kept: KeptShapes,
  ) {
    this.socket = createSocket({ type: server.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    // Open sockets must not keep the process alive; each pending query holds a timer that does.
    this.socket.unref();
    this.socket.on('message', (message, remote) => {
      kept.message = message;
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
    const queries = this.pending.values();
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
    this.socket.close();
  }
}

/** UDP sockets to DNS servers, one in use per server at a time, each replaced after a bounded number of queries. */
/**
 * The latest object of each shape on the lookup path, kept alive. V8 holds the hidden classes (maps) an object
 * reaches by adding properties only weakly: a full GC at a moment when no query is in flight frees them, and
 * every function optimised for them is deoptimised (seen with --trace-deopt, "reason: weak objects", after each
 * full GC the bench forces between rounds; a Buffer made by node:dgram for a datagram has such a map too, from its
 * prototype being set). Re-optimising cost about a tenth more CPU per lookup in those rounds. One object each,
 * owned by the resolver, so nothing outlives it.
 */
export interface KeptShapes {
  message: Buffer | undefined;
  query: object | undefined;
  question: object | undefined;
}

export class UdpPool {
  readonly kept: KeptShapes = { message: undefined, query: undefined, question: undefined };
  readonly #current = new Map<ServerAddress, Channel>();
  /** The timeouts of the queries on this pool's sockets. */
  readonly deadlines = new DeadlineQueue();

  /** The socket to send the next query to `server` on; `add` the query to it to get its id. */
  acquire(server: ServerAddress): Channel {
    // Keyed by the address object: a resolver parses its servers once, so no key string is built per query.
    // Entries are replaced, never deleted: a Map whose entries come and go links its old hash tables into a
    // chain the young-generation GC cannot free (see QueriesById); a closed socket stays here until replaced.
    let channel = this.#current.get(server);
    if (channel === undefined || channel.closed || channel.used >= QUERIES_PER_SOCKET) {
      channel = new Channel(server, this.kept);
      this.#current.set(server, channel);
    }
    return channel;
  }
}

export type { Channel as UdpChannel };
