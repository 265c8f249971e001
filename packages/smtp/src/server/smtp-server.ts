import { createServer as createNetServer, isIP, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  createSecureContext,
  createServer as createTlsServer,
  type SecureContext,
  type SecureContextOptions,
  Server as TlsServer,
} from 'node:tls';
import { formatReply, reply } from '../core/reply-format';
import { SmtpError } from '../core/smtp-error';
import { Connection, type ConnectionContext, type LocalEnd } from './connection';
import { nextSerial, sessionIdOf } from './connection-clock';
import { fastAcceptKnownToWork, installFastAccept } from './fast-accept';
import { DEFAULT_LIMITS, type SmtpServerLimits, type SmtpServerOptions } from './options';
import { logHandshakeTimeout } from './refusal-log';

/** Counters of a running server. */
export interface SmtpServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** Messages accepted (250 after the data). */
  messages: number;
  /** Octets of accepted message bodies. */
  bytes: number;
}

/** An SMTP server on one or more listeners; see `createServer`. */
export class SmtpServer {
  private readonly limits: SmtpServerLimits;
  private readonly context: ConnectionContext;
  private readonly listeners: Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();
  // Implicit TLS connections still in their handshake, by `address:port`: counted (total and per
  // address) from the TCP accept, so a client that never finishes its handshake holds a slot
  // (for `tlsHandshakeTimeoutMs` at most). The per-address key, if counted, and the TCP socket.
  private readonly handshaking = new Map<string, { address: string | undefined; raw: Socket }>();
  private readonly counters: SmtpServerStats = { connections: 0, connectionsTotal: 0, messages: 0, bytes: 0 };
  private closing = false;
  // Whether plain listeners try the fast accept path, and whether one of them took it.
  private readonly fastAcceptWanted: boolean;
  private fastAccepting = 0;
  // Sockets the fast path made: the listener's 'connection' event reports them, but they are
  // already accepted.
  private readonly fastSockets = new WeakSet<Socket>();
  // One read buffer for every plain connection: each read is handed to its session and done with
  // before the next (see acceptFast).
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  // The timeout sweep runs while connections are open, every `sweepInterval` ms.
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepInterval: number;
  // The per-address limit can only refuse a connection when it is below the total limit (which
  // is checked first); otherwise no per-address count is kept.
  private readonly perIp: boolean;
  // Hooks and the logger see `info.remoteAddress`: read it at accept, while the socket is open.
  private readonly eagerAddress: boolean;

  constructor(private readonly options: SmtpServerOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.fastAcceptWanted = options.fastAccept ?? fastAcceptKnownToWork();
    this.perIp = this.limits.maxConnectionsPerIp < this.limits.maxConnections;
    const handshakeMs = this.limits.tlsHandshakeTimeoutMs;
    // Node takes 0 for its own default (120 s): only a positive, finite limit means what it says.
    if (!(handshakeMs > 0 && Number.isFinite(handshakeMs))) {
      throw new SmtpError(
        'SMTP_TLS_CONFIG',
        `limits.tlsHandshakeTimeoutMs must be a positive number of ms, not ${handshakeMs}`,
      );
    }
    this.eagerAddress = options.logger !== undefined || Object.keys(options.hooks ?? {}).length > 0;
    // A sweep every tenth of the shorter timeout (5 ms to 1 s): a timeout fires up to two sweeps late.
    const limits = this.limits;
    const shortest = Math.min(limits.idleTimeoutMs, limits.sessionTimeoutMs, handshakeMs, limits.hookTimeoutMs);
    this.sweepInterval = Math.max(5, Math.min(1000, Math.floor(shortest / 10)));
    const secureContext: SecureContext | undefined = options.tls ? createSecureContext(options.tls) : undefined;
    this.context = {
      hostname: options.hostname ?? 'localhost',
      limits: this.limits,
      hooks: options.hooks ?? {},
      auth: options.auth,
      secureContext,
      logger: options.logger,
      onMessage: (size) => {
        this.counters.messages++;
        this.counters.bytes += size;
      },
      onClose: (connection) => this.forget(connection),
      now: () => performance.now(),
    };
  }

  /** Starts a listener; resolves with the address it is bound to. `implicitTls` is for port 465 (RFC 8314). */
  listen(
    options: { host?: string; port?: number; implicitTls?: boolean } = {},
  ): Promise<{ host: string; port: number }> {
    if (this.closing) return Promise.reject(new SmtpError('SMTP_SERVER_CLOSED', 'the server is closing'));
    const implicitTls = options.implicitTls ?? false;
    if (implicitTls && this.options.tls === undefined) {
      return Promise.reject(new SmtpError('SMTP_TLS_CONFIG', 'implicitTls needs the tls option (key and certificate)'));
    }
    // The local end of every accepted socket, when the listener is bound to one address: known
    // without a getsockname(2) per connection. Unset for a wildcard address (0.0.0.0, ::).
    let local: LocalEnd | undefined;
    // Node's handshakeTimeout runs from the TCP accept to the end of the handshake, whatever the
    // client sends meanwhile (a ClientHello dripped a byte at a time gets no more time).
    const handshakeTimeout = this.limits.tlsHandshakeTimeoutMs;
    const server = implicitTls
      ? createTlsServer({ ...this.options.tls, noDelay: true, handshakeTimeout }, (socket) =>
          this.acceptHandshaken(socket, local),
        )
      : createNetServer({ noDelay: true }, (socket) => {
          if (!this.fastSockets.has(socket)) this.accept(socket, false, local);
        });
    server.on('error', (error) => this.options.logger?.error({ err: error }, 'smtp listener-error'));
    if (implicitTls) {
      // Runs after tls.Server's own listener has wrapped the socket; destroying it ends both.
      server.on('connection', (raw: Socket) => this.reserve(raw));
      server.on('tlsClientError', (error, socket) => {
        const logger = this.options.logger;
        if ((error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
          // No session exists yet: the line gets an id of its own.
          if (logger) {
            const address = socket.remoteAddress ?? '';
            logHandshakeTimeout(logger, sessionIdOf(nextSerial()), address, 'implicit', handshakeTimeout);
          }
        } else {
          logger?.debug({ err: error }, 'smtp tls-error');
        }
        socket.destroy();
      });
    }
    this.listeners.push(server);
    return new Promise((resolve, reject) => {
      const onError = (error: Error) =>
        reject(new SmtpError('SMTP_LISTEN_FAILED', `cannot listen: ${error.message}`, { cause: error }));
      server.once('error', onError);
      server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 25 }, () => {
        server.removeListener('error', onError);
        const address = server.address();
        if (address === null || typeof address === 'string') resolve({ host: String(address), port: 0 });
        else {
          if (!isIP(address.address) || /^(0\.0\.0\.0|::)$/.test(address.address)) local = undefined;
          else local = { address: address.address, port: address.port };
          if (!implicitTls && this.fastAcceptWanted) this.acceptFast(server, () => local);
          resolve({ host: address.address, port: address.port });
        }
      });
    });
  }

  /**
   * Replaces the key and certificate (a renewed certificate): the next STARTTLS and the next
   * implicit TLS handshake use them; sessions already under TLS keep theirs. Needs `tls` at creation.
   */
  setTls(tls: SecureContextOptions): void {
    if (this.context.secureContext === undefined) {
      throw new SmtpError('SMTP_TLS_CONFIG', 'setTls needs a server created with the tls option');
    }
    // createSecureContext throws on a bad key or certificate, before anything is replaced.
    const secureContext = createSecureContext(tls);
    this.context.secureContext = secureContext;
    for (const server of this.listeners) {
      if (server instanceof TlsServer) server.setSecureContext(tls);
    }
  }

  /** Which accept path plain listeners use: `fast` (see the `fastAccept` option) or Node's own. */
  get acceptPath(): 'fast' | 'node' {
    return this.fastAccepting > 0 ? 'fast' : 'node';
  }

  /**
   * Node's listeners, for instrumentation: on either accept path their `getConnections()`, their
   * 'connection' event and the `net.server.socket` diagnostics channel report every connection.
   */
  get netServers(): readonly Server[] {
    return this.listeners;
  }

  /** Counters: open and total connections, accepted messages and octets. */
  stats(): SmtpServerStats {
    return { ...this.counters };
  }

  /**
   * Graceful close: stop listening, send `421 4.3.2` to sessions between commands, let the
   * others finish their current command or message, and destroy what is left after `timeoutMs` (default 30 000).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing = true;
    const stopped = Promise.all(
      this.listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    for (const connection of this.connections) connection.closeWhenIdle();
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const connection of [...this.connections]) connection.destroy();
    // Handshakes still under way hold the listener open too (each ends by its own limit anyway).
    for (const { raw } of [...this.handshaking.values()]) raw.destroy();
    await stopped;
  }

  // Plain listeners read every connection into one shared buffer (see fast-accept.ts).
  private acceptFast(server: Server, local: () => LocalEnd | undefined): void {
    const buffer = this.readBuffer;
    const installed = installFastAccept(
      server,
      buffer,
      this.fastSockets,
      (socket) => {
        const connection = this.accept(socket, false, local(), true);
        return connection === undefined ? undefined : (length) => connection.receive(buffer.subarray(0, length), true);
      },
      this.options.logger,
      () => this.fastAccepting--,
    );
    if (installed) this.fastAccepting++;
  }

  // The TCP accept of an implicit TLS connection: the limits apply here, before the handshake. A
  // refused one is dropped: a 421 in clear text means nothing to a client that starts with TLS.
  private reserve(raw: Socket): void {
    const key = `${raw.remoteAddress}:${raw.remotePort}`;
    const address = this.perIp ? (raw.remoteAddress ?? '') : undefined;
    const full =
      this.closing ||
      this.connections.size + this.handshaking.size >= this.limits.maxConnections ||
      (address !== undefined && (this.perAddress.get(address) ?? 0) >= this.limits.maxConnectionsPerIp);
    if (full) {
      raw.on('error', () => {});
      raw.destroy();
      return;
    }
    if (address !== undefined) this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    this.handshaking.set(key, { address, raw });
    // Closed before the handshake finished: the slot is given back here (after it, by `forget`).
    raw.once('close', () => {
      if (!this.handshaking.has(key)) return;
      this.handshaking.delete(key);
      if (address !== undefined) this.release(address);
    });
  }

  // The handshake is done: the slot `reserve` took becomes the connection's.
  private acceptHandshaken(socket: Socket, local: LocalEnd | undefined): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    if (!this.handshaking.has(key)) {
      socket.destroy();
      return;
    }
    const address = this.handshaking.get(key)?.address;
    this.handshaking.delete(key);
    if (this.closing) {
      if (address !== undefined) this.release(address);
      socket.on('error', () => {});
      socket.end(formatReply(reply(421, '4.3.2', 'Service shutting down')));
      return;
    }
    this.admit(socket, true, local, false, address ?? (this.eagerAddress ? (socket.remoteAddress ?? '') : undefined));
  }

  private accept(
    socket: Socket,
    secure: boolean,
    local: LocalEnd | undefined,
    borrowedReads = false,
  ): Connection | undefined {
    if (this.closing) {
      socket.on('error', () => {});
      socket.end(formatReply(reply(421, '4.3.2', 'Service shutting down')));
      return undefined;
    }
    // RFC 5321 3.1/4.2.3: 421 when we cannot serve this connection now.
    if (this.connections.size >= this.limits.maxConnections) {
      socket.on('error', () => {});
      socket.end(formatReply(reply(421, '4.7.0', `${this.context.hostname} Too many connections, try later`)));
      return undefined;
    }
    // The peer's address costs a getpeername(2); it is read here only when something uses it.
    let address: string | undefined;
    if (this.perIp) {
      address = socket.remoteAddress ?? '';
      const fromAddress = this.perAddress.get(address) ?? 0;
      if (fromAddress >= this.limits.maxConnectionsPerIp) {
        socket.on('error', () => {});
        socket.end(formatReply(reply(421, '4.7.0', `${this.context.hostname} Too many connections from your address`)));
        return undefined;
      }
      this.perAddress.set(address, fromAddress + 1);
    } else if (this.eagerAddress) {
      address = socket.remoteAddress ?? '';
    }
    return this.admit(socket, secure, local, borrowedReads, address);
  }

  // Counts and starts a connection whose limits were checked (and per-address slot taken).
  private admit(
    socket: Socket,
    secure: boolean,
    local: LocalEnd | undefined,
    borrowedReads: boolean,
    address: string | undefined,
  ): Connection {
    this.counters.connections++;
    this.counters.connectionsTotal++;
    if (this.sweepTimer === undefined) {
      this.sweepTimer = setInterval(() => this.sweep(), this.sweepInterval);
      this.sweepTimer.unref();
    }
    const connection = new Connection(socket, secure, this.context, address, local, borrowedReads);
    // Counted before it starts: a connect hook may end it at once (and `forget` must find it).
    this.connections.add(connection);
    connection.start();
    if (this.closing) connection.closeWhenIdle();
    return connection;
  }

  private sweep(): void {
    const now = this.context.now();
    for (const connection of this.connections) connection.checkTimeouts(now);
  }

  private forget(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    this.counters.connections--;
    if (this.connections.size === 0 && this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
    if (this.perIp) this.release(connection.remoteAddress);
  }

  private release(address: string): void {
    const count = (this.perAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, count);
  }
}

/** Creates an SMTP server bound to nothing yet; call `listen()`. */
export function createServer(options: SmtpServerOptions = {}): SmtpServer {
  return new SmtpServer(options);
}
