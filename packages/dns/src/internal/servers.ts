import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DnsError } from '../dns-error';

/** A DNS server to ask: an IP address and a port. */
export interface ServerAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

const FALLBACK = '127.0.0.1:53';

/** Parses `host:port`, `[v6]:port`, a bare IPv4 or IPv6 address (port 53). Names are refused: no DNS to find DNS. */
export function parseServer(text: string): ServerAddress {
  const bad = (why: string): DnsError =>
    new DnsError('BADCONFIG', `DNS server "${text}" ${why}; give an IP address and port such as 127.0.0.1:53`);
  if (typeof text !== 'string' || text.trim() === '') throw bad('is empty');
  const trimmed = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIP(trimmed) === 6) {
    host = trimmed;
  } else {
    const colon = trimmed.lastIndexOf(':');
    host = colon === -1 ? trimmed : trimmed.slice(0, colon);
    portText = colon === -1 ? undefined : trimmed.slice(colon + 1);
  }
  const family = isIP(host);
  if (family === 0) throw bad('is not an IP address');
  const port = portText === undefined ? 53 : Number(portText);
  if (!/^\d+$/.test(portText ?? '53') || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw bad('has no valid port (1-65535)');
  }
  return { host, port, family: family as 4 | 6 };
}

/** The `nameserver` lines of resolv.conf(5) as `host:port` strings; 127.0.0.1:53 when there is none. */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = match?.[1]?.replace(/%.*$/, ''); // drop an IPv6 zone index: dgram takes none here
    if (address === undefined) continue;
    const family = isIP(address);
    if (family === 4) servers.push(`${address}:53`);
    else if (family === 6) servers.push(`[${address}]:53`);
  }
  return servers.length > 0 ? servers : [FALLBACK];
}

/** The system's resolvers from /etc/resolv.conf, read when first needed (never at import). */
export function systemServers(): string[] {
  try {
    return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [FALLBACK];
  }
}
