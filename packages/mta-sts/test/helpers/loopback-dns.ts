// Starts the loopback DNS server of @homing/dns/testing with `zones` and a real resolver for it.
import { createResolver, type Resolver } from '@homing/dns';
import { type DnsServer, startDnsServer, type Zones } from '@homing/dns/testing';

/** A running server and a resolver asking it (one try of one second: TIMEOUT cases stay quick, a loaded machine still answers in time). */
export interface LoopbackDns {
  server: DnsServer;
  resolver: Resolver;
}

/** Starts the server on an ephemeral loopback port. */
export async function startLoopbackDns(zones: Zones): Promise<LoopbackDns> {
  const server = await startDnsServer({ zones });
  const resolver = createResolver({ servers: [server.address], timeoutMs: 1000, tries: 1, cache: false });
  return { server, resolver };
}
