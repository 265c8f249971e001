// What the server counts, as Prometheus metrics (prom-client) in a registry of its own: the global
// registry is shared by every copy of prom-client in the process, and two servers in one test
// process must not count into each other.

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ListenerName, Metrics, QueueSizeByState } from './observability-types';

export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from './metrics-server';

const listeners: ListenerName[] = ['mx', 'submission', 'submissions'];
const queueStates: (keyof QueueSizeByState)[] = ['pending', 'deferred', 'held'];

/** The server's metrics, with prom-client's default process metrics, in a registry of its own. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const connections = new Counter({
    name: 'homing_connections_total',
    help: 'SMTP connections accepted, by listener',
    labelNames: ['listener'],
    registers,
  });
  const open = new Gauge({
    name: 'homing_connections_open',
    help: 'SMTP connections open now, by listener',
    labelNames: ['listener'],
    registers,
  });
  const accepted = new Counter({
    name: 'homing_messages_accepted_total',
    help: 'Messages accepted and durably queued (250 after DATA or BDAT), by listener',
    labelNames: ['listener'],
    registers,
  });
  const rejected = new Counter({
    name: 'homing_messages_rejected_total',
    help: 'Messages or commands refused, by reason (relay, unknown-user, spf, dmarc, dnsbl, size, ...)',
    labelNames: ['reason'],
    registers,
  });
  const junked = new Counter({
    name: 'homing_messages_junked_total',
    help: 'Messages filed in Junk, by the filter that junked them',
    labelNames: ['filter'],
    registers,
  });
  const deliveries = new Counter({
    name: 'homing_local_deliveries_total',
    help: 'Local (Maildir) delivery attempts, by result (ok, deferred, failed) and folder (INBOX, Junk)',
    labelNames: ['result', 'folder'],
    registers,
  });
  const dnsFailures = new Counter({
    name: 'homing_dns_failures_total',
    help: 'DNS lookups of a check that failed or ran out of time, by check (rdns, fcrdns, dnsbl, spf, dmarc, ...)',
    labelNames: ['check'],
    registers,
  });
  let readQueueSize: (() => Promise<QueueSizeByState>) | undefined;
  // One read per scrape, shared by the gauge and the error counter: prom-client collects metrics
  // concurrently, so the counter must wait for the read the gauge started.
  let inFlight: Promise<QueueSizeByState | undefined> | undefined;
  const readOnce = (): Promise<QueueSizeByState | undefined> => {
    if (readQueueSize === undefined) return Promise.resolve(undefined);
    inFlight ??= readQueueSize()
      .catch(() => {
        queueReadErrors.inc();
        return undefined;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  new Gauge({
    name: 'homing_queue_messages',
    help: 'Messages in the queue, by state (pending, deferred, held), read at each scrape',
    labelNames: ['state'],
    registers,
    async collect() {
      const size = await readOnce();
      // A stale number would look like a healthy queue: no value at all is what alerts see.
      if (size === undefined) this.reset();
      else for (const state of queueStates) this.set({ state }, size[state]);
    },
  });
  const queueReadErrors: Counter = new Counter({
    name: 'homing_queue_read_errors_total',
    help: 'Scrapes at which the queue size could not be read (homing_queue_messages is then absent)',
    registers,
    async collect() {
      await readOnce();
    },
  });

  // Every known series exists from the start at 0, so rate() and alerts work before the first event.
  for (const listener of listeners) {
    connections.inc({ listener }, 0);
    open.set({ listener }, 0);
    accepted.inc({ listener }, 0);
  }
  for (const result of ['ok', 'deferred', 'failed']) {
    for (const folder of ['INBOX', 'Junk']) deliveries.inc({ result, folder }, 0);
  }

  return {
    contentType: registry.contentType,
    connectionOpened(listener) {
      connections.inc({ listener });
      open.inc({ listener });
    },
    connectionClosed(listener) {
      open.dec({ listener });
    },
    messageAccepted(listener) {
      accepted.inc({ listener });
    },
    messageRejected(reason) {
      rejected.inc({ reason });
    },
    junked(filter) {
      junked.inc({ filter });
    },
    localDelivery(result, folder) {
      deliveries.inc({ result, folder });
    },
    dnsFailure(check) {
      dnsFailures.inc({ check });
    },
    setQueueSizeSource(read) {
      readQueueSize = read;
    },
    render: () => registry.metrics(),
  };
}
