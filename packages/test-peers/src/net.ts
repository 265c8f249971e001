import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

/** A raw TCP server on loopback (ephemeral port) for scripted and hostile peers. */
export interface RawServer {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Destroys the open connections and closes the server. */
  close(): Promise<void>;
}

/** Starts a raw TCP server on 127.0.0.1, ephemeral port, calling `onConnection` with each socket. */
export async function rawServer(onConnection: (socket: Socket) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => connections,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

/** Calls `onLine` with each CRLF-terminated line a socket sends (read as latin1, without the CRLF). */
export function lines(socket: Socket, onLine: (line: string) => void): void {
  let buffered = '';
  socket.on('data', (data) => {
    buffered += data.toString('latin1');
    let end = buffered.indexOf('\r\n');
    while (end !== -1) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      onLine(line);
      end = buffered.indexOf('\r\n');
    }
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a peer that cannot listen on port 0 and say which it got. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The TCP port process `pid` listens on, found through /proc (smtp-sink cannot report the port it
 * got for :0); undefined while it listens on none.
 */
export function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    }
  } catch {
    return undefined;
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/);
      // fields: sl local_address rem_address st ... inode (index 9); st 0A is LISTEN.
      if (fields[3] === '0A' && inodes.has(fields[9]!)) return Number.parseInt(fields[1]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}
