import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { SmtpClientError } from '../core/client-error';

/** How to reach the server and whether to speak TLS from the first byte. */
export interface SocketTarget {
  host: string;
  port: number;
  localAddress?: string;
  /** Set for implicit TLS (RFC 8314): the handshake happens before the greeting. */
  tls?: ConnectionOptions;
  timeout: number;
  signal?: AbortSignal;
}

/**
 * Opens a TCP (or TLS) connection, bounded by `timeout` and `signal`. Failures are
 * `CONNECT_FAILED`, `TLS_FAILED`, `TIMEOUT` or `ABORTED`; the socket is destroyed on any of them.
 */
export function openSocket(target: SocketTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const implicit = target.tls !== undefined;
    const socket: Socket = implicit
      ? // tls.connect passes net options such as localAddress through to net.connect.
        tlsConnect({
          ...target.tls,
          host: target.host,
          port: target.port,
          localAddress: target.localAddress,
        } as ConnectionOptions)
      : netConnect({ host: target.host, port: target.port, localAddress: target.localAddress });
    let tcpUp = false;
    const finish = (error?: SmtpClientError) => {
      clearTimeout(timer);
      target.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(implicit ? 'secureConnect' : 'connect', onConnect);
      socket.off('connect', onTcp);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(socket);
    };
    const onTcp = () => {
      tcpUp = true;
    };
    const onConnect = () => finish();
    const onError = (cause: Error) =>
      finish(
        tcpUp && implicit
          ? new SmtpClientError(
              'TLS_FAILED',
              `TLS handshake with ${target.host}:${target.port} failed: ${cause.message}`,
              { cause },
            )
          : new SmtpClientError('CONNECT_FAILED', `cannot connect to ${target.host}:${target.port}: ${cause.message}`, {
              cause,
            }),
      );
    const onAbort = () =>
      finish(new SmtpClientError('ABORTED', 'connect aborted', { cause: target.signal?.reason, transient: true }));
    const timer = setTimeout(
      () =>
        finish(
          new SmtpClientError('TIMEOUT', `connect to ${target.host}:${target.port} took over ${target.timeout} ms`),
        ),
      target.timeout,
    );
    socket.once('connect', onTcp);
    socket.once(implicit ? 'secureConnect' : 'connect', onConnect);
    socket.once('error', onError);
    if (target.signal?.aborted) onAbort();
    else target.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs the TLS handshake over an already-open socket (after STARTTLS), bounded by `timeout`. */
export function upgradeSocket(socket: Socket, options: ConnectionOptions, timeout: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket });
    const finish = (error?: Error) => {
      clearTimeout(timer);
      secure.off('error', finish);
      secure.off('secureConnect', onSecure);
      if (error) {
        secure.destroy();
        reject(error);
      } else resolve(secure);
    };
    const onSecure = () => finish();
    const timer = setTimeout(() => finish(new Error(`TLS handshake took over ${timeout} ms`)), timeout);
    secure.once('secureConnect', onSecure);
    secure.once('error', finish);
  });
}
