import { channel } from 'node:diagnostics_channel';
import { type Server, Socket, type SocketConstructorOpts } from 'node:net';
import type { Logger } from './options';

/** Node majors on which the fast accept path is known to work (tested in CI: .ci/node-versions.sh). */
export const FAST_ACCEPT_NODE_MAJORS: readonly number[] = [20, 22, 24];

/** True when this Node is one the fast accept path is known to work on. */
export function fastAcceptKnownToWork(version = process.versions.node): boolean {
  return FAST_ACCEPT_NODE_MAJORS.includes(Number(version.split('.')[0]));
}

// What Node's own accept path publishes for each accepted socket; instrumentation listens here.
const serverSocketChannel = channel('net.server.socket');

// The parts of a listener's internals the fast path touches: the libuv handle's accept callback,
// and the count behind `getConnections()` (lib/net.js, Node 20 to 24).
interface ListenerInternals {
  _handle?: { onconnection?: unknown } | null;
  _connections: number;
  maxConnections?: number;
}
type OnConnection = (this: unknown, status: number, clientHandle: unknown) => void;

/**
 * Node's accept path makes each socket a readable stream: a fresh buffer per read, pushed through
 * the stream machinery to a 'data' event. This takes the accepted handle from the listener's
 * `_handle.onconnection` instead and makes the socket with `onread` and one shared read buffer,
 * then does Node's bookkeeping itself: the listener's connection count (`getConnections()`, which
 * the socket decrements when it closes, as Node's own do), its 'connection' event and the
 * `net.server.socket` diagnostics channel. `onSocket` gets each socket and hands its reads to
 * `onRead` (the bytes are in `buffer` and valid only during the call).
 *
 * Guarded: returns false, and leaves Node's path in place, when the hook is missing; anything that
 * throws while making a socket puts Node's own callback back and hands it the connection. Sockets
 * it made are in `ours`, so that the listener's 'connection' handler can tell them apart.
 */
export function installFastAccept(
  server: Server,
  buffer: Buffer,
  ours: WeakSet<Socket>,
  onSocket: (socket: Socket) => ((length: number) => void) | undefined,
  logger: Logger | undefined,
  onFallback: () => void = () => {},
): boolean {
  const internals = server as unknown as ListenerInternals;
  const handle = internals._handle;
  if (handle === null || handle === undefined || typeof handle.onconnection !== 'function') return false;
  const nodeOnConnection = handle.onconnection as OnConnection;
  handle.onconnection = function fastOnConnection(this: unknown, status: number, clientHandle: unknown) {
    // Accept errors and the maxConnections limit are Node's to handle, as on its own path.
    if (status < 0 || clientHandle === undefined || clientHandle === null) {
      nodeOnConnection.call(this, status, clientHandle);
      return;
    }
    if (internals.maxConnections !== undefined && internals._connections >= internals.maxConnections) {
      nodeOnConnection.call(this, status, clientHandle);
      return;
    }
    let socket: Socket;
    let onRead: ((length: number) => void) | undefined;
    try {
      socket = new Socket({
        handle: clientHandle,
        readable: true,
        writable: true,
        onread: { buffer, callback: (length: number) => onRead?.(length) },
      } as SocketConstructorOpts);
    } catch (error) {
      // Node changed under us: go back to its own path for this connection and every later one.
      logger?.error({ err: error }, 'smtp fast-accept-failed');
      handle.onconnection = nodeOnConnection;
      onFallback();
      nodeOnConnection.call(this, status, clientHandle);
      return;
    }
    socket.setNoDelay(true);
    // Node's bookkeeping (lib/net.js onconnection): the socket decrements the count when it closes.
    const owned = socket as unknown as { server: Server; _server: Server };
    owned.server = server;
    owned._server = server;
    internals._connections++;
    ours.add(socket);
    try {
      onRead = onSocket(socket);
      server.emit('connection', socket);
      if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
    } catch (error) {
      // Never let an exception escape into libuv's callback: that would end the process.
      logger?.error({ err: error }, 'smtp accept-failed');
      socket.destroy();
    }
  } as OnConnection;
  return true;
}
