// The set-up most delivery tests share: a loopback DNS server on which example.net's MX is
// mx.example.net at 127.0.0.1, and the agents and servers a test opened, closed after each test.
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { DeliveryAgent } from '../src/index';

export interface LoopbackMx {
  /** The DNS server (set once the file's tests start). */
  readonly dns: DnsServer;
  /** Agents to close after each test. */
  agents: DeliveryAgent[];
  /** Other things to close after each test (receivers, sinks). */
  closers: (() => Promise<void>)[];
}

/** Registers the set-up in the calling test file and gives its handles. */
export function useLoopbackMx(): LoopbackMx {
  let server: DnsServer | undefined;
  const agents: DeliveryAgent[] = [];
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    server = await startDnsServer({
      zones: {
        'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
        'mx.example.net': { A: ['127.0.0.1'] },
      },
    });
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.close()));
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get dns() {
      if (server === undefined) throw new Error('the loopback DNS server starts in beforeAll');
      return server;
    },
    agents,
    closers,
  };
}
