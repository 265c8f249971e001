import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { answerQuery, indexZones, type QueryLogEntry, type ZoneIndex } from './internal/zone-answer';
import type { Zones } from './zones';

/** Options of `startDnsServer`. */
export interface DnsServerOptions {
  /** The names the server answers for, as plain objects (see README) or from `parseZoneFile`. */
  zones: Zones;
  /** Port for both UDP and TCP; default 0 (an ephemeral port, the same for both). */
  port?: number;
  /** Address to listen on; default `127.0.0.1`. */
  host?: string;
}

/** A running loopback DNS server. */
export interface DnsServer {
  /** `host:port` (`[::1]:port` for IPv6), ready for `createResolver({ servers: [server.address] })`. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Every query received, oldest first (the most recent 10,000 are kept). */
  readonly queries: QueryLogEntry[];
  /** Replaces the zones; later queries see the new data. */
  setZones(zones: Zones): void;
  /** Stops listening and closes open TCP connections. */
  close(): Promise<void>;
}

const MAX_LOGGED_QUERIES = 10_000;
const MAX_TCP_MESSAGE = 65_535 + 2;
const TCP_IDLE_MS = 30_000;

/** Starts a small authoritative DNS server on UDP and TCP, answering from `zones` (for tests and `homing dns serve`). */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const host = options.host ?? '127.0.0.1';
  let zones: ZoneIndex = indexZones(options.zones);
  const queries: QueryLogEntry[] = [];
  const log = (entry: QueryLogEntry): void => {
    queries.push(entry);
    if (queries.length > 2 * MAX_LOGGED_QUERIES) queries.splice(0, queries.length - MAX_LOGGED_QUERIES);
  };
  const { udp, tcp, port } = await bindBoth(host, options.port ?? 0);
  const connections = new Set<Socket>();

  udp.on('message', (message, remote) => {
    const response = answerQuery(zones, message, 'udp', log);
    if (response) udp.send(response, remote.port, remote.address);
  });
  udp.on('error', () => {}); // an ICMP error for one client must not stop the server
  tcp.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    serveTcp(socket, () => zones, log);
  });

  return {
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    host,
    port,
    queries,
    setZones(next: Zones) {
      zones = indexZones(next);
    },
    async close() {
      for (const socket of connections) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/** RFC 1035 4.2.2: over TCP each message is preceded by its two-octet length; several may share a connection. */
function serveTcp(socket: Socket, zones: () => ZoneIndex, log: (entry: QueryLogEntry) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length > MAX_TCP_MESSAGE * 4) {
      socket.destroy();
      return;
    }
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) break;
      const message = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      const response = answerQuery(zones(), message, 'tcp', log);
      if (response) {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(response.length);
        socket.write(Buffer.concat([prefix, response]));
      }
    }
  });
}

/** Binds UDP first, then TCP on the same port; with port 0, retries when TCP finds that port taken. */
async function bindBoth(host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket(type);
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const chosen = udp.address().port;
    const tcp = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(chosen, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp, port: chosen };
    } catch (error) {
      udp.close();
      if (port !== 0 || attempt >= 20) throw error;
    }
  }
}
