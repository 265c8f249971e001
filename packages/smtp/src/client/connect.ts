import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ClientSession } from '../core/client-session';
import { type ConnectOptions, DEFAULT_CLIENT_TIMEOUTS } from './client-options';
import { openSocket } from './open-socket';
import { SmtpClient } from './smtp-client';

/** The `tls.connect` options for this server: SNI from the host name, verification per mode. */
export function tlsConnectOptions(options: ConnectOptions): ConnectionOptions {
  const { mode = 'opportunistic', ...rest } = options.tls ?? {};
  const tlsOptions: ConnectionOptions = {
    // RFC 7435: opportunistic encryption does not authenticate; required and implicit TLS do.
    rejectUnauthorized: mode !== 'opportunistic',
    ...rest,
  };
  if (tlsOptions.servername === undefined && isIP(options.host) === 0) tlsOptions.servername = options.host;
  return tlsOptions;
}

/**
 * Opens a connection and runs the greeting, EHLO (HELO fallback), STARTTLS and AUTH; resolves
 * when the server is ready for a message. Rejects with `SmtpClientError`.
 */
export async function connect(options: ConnectOptions): Promise<SmtpClient> {
  const mode = options.tls?.mode ?? 'opportunistic';
  const timeouts = { ...DEFAULT_CLIENT_TIMEOUTS, ...options.timeouts };
  const session = new ClientSession({
    hostname: options.hostname ?? 'localhost',
    tls: mode,
    auth: options.auth,
    chunking: options.chunking,
    maxLineLength: options.maxReplyLineLength,
    maxLines: options.maxReplyLines,
  });
  const tlsOptions = tlsConnectOptions(options);
  const socket = await openSocket({
    host: options.host,
    port: options.port ?? (mode === 'implicit' ? 465 : 25),
    localAddress: options.localAddress,
    tls: mode === 'implicit' ? tlsOptions : undefined,
    timeout: timeouts.connectMs,
    signal: options.signal,
  });
  const client = new SmtpClient(socket, session, options, tlsOptions);
  await client.ready().catch(async (error) => {
    await client.close();
    throw error;
  });
  return client;
}
