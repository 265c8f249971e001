import type { Queue } from '@homing/queue';
import type { Config } from '../config/config-types';
import type { ControlHandler } from './control/control-commands';
import { startControlServer } from './control/control-server';
import type { BoundAddress } from './listen-addresses';
import { startMetricsServer } from './observability/metrics';
import type { EventLog, Metrics } from './observability/observability-types';

/** The server's side services: Prometheus metrics over HTTP and the control socket. */
export interface Services {
  metricsAddresses: BoundAddress[];
  close(): Promise<void>;
}

/** Starts the metrics listener and the control socket, and feeds the queue gauge. */
export async function startServices(options: {
  config: Config;
  queue: Queue;
  metrics: Metrics;
  log: EventLog;
  reload: () => Promise<{ ok: true } | { ok: false; error: string }>;
  status: () => object;
  /** More control commands by name (ACME's `acme.renew`, ...). */
  commands?: Record<string, ControlHandler>;
}): Promise<Services> {
  const { config, queue, metrics, log } = options;
  metrics.setQueueSizeSource(async () => {
    const size = { pending: 0, deferred: 0, held: 0 };
    for (const message of await queue.list()) {
      if (message.held) {
        size.held++;
        continue;
      }
      if (message.recipients.some((r) => r.state === 'deferred')) size.deferred++;
      else if (message.recipients.some((r) => r.state === 'pending')) size.pending++;
    }
    return size;
  });
  const metricsServer =
    config.listen.metrics.length > 0
      ? await startMetricsServer({ addresses: config.listen.metrics, metrics })
      : undefined;
  const control = await startControlServer({
    path: config.listen.control,
    queue,
    reload: options.reload,
    status: options.status,
    commands: options.commands,
    log,
  });
  return {
    metricsAddresses: metricsServer?.addresses ?? [],
    async close() {
      await Promise.all([metricsServer?.close(), control.close()]);
    },
  };
}
