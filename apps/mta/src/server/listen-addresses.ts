import type { SmtpServer } from '@homing/smtp/server';
import type { ListenAddress } from '../config/config-types';

/** One address a listener is bound to, as the start-up line reports it. */
export interface BoundAddress {
  host: string;
  port: number;
}

function isWildcardV6(host: string): boolean {
  return host === '::' || host === '[::]';
}

/**
 * Binds an SMTP server to each address. `[::]` takes IPv6 and IPv4 on one socket where the
 * system allows it (Linux's default `bindv6only=0`); on a host without IPv6 it falls back to
 * `0.0.0.0`, so the default works everywhere.
 */
export async function listenAll(
  server: SmtpServer,
  addresses: readonly ListenAddress[],
  implicitTls: boolean,
): Promise<BoundAddress[]> {
  const bound: BoundAddress[] = [];
  for (const address of addresses) {
    const host = address.host.replace(/^\[|\]$/g, '');
    try {
      bound.push(await server.listen({ host, port: address.port, implicitTls }));
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (isWildcardV6(host) && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
        bound.push(await server.listen({ host: '0.0.0.0', port: address.port, implicitTls }));
      } else {
        throw error;
      }
    }
  }
  return bound;
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(address: BoundAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
