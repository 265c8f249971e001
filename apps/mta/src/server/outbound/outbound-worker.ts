// The outbound worker of `homing start` (issue 14 item 4): @homing/delivery's worker on the same
// queue as local delivery, claiming every domain but ours. MX routing, MTA-STS, DANE, pooled
// sessions, per-domain concurrency and the DSNs are the library's; the app decides the EHLO name,
// the port, a smarthost (`relay:`), source addresses (`outbound:`) and where reports go.
import { readFile } from 'node:fs/promises';
import {
  createDeliveryAgent,
  createMtaStsSource,
  type DeliveryOptions,
  runDeliveryWorker,
  type Smarthost,
} from '@homing/delivery';
import type { Resolver } from '@homing/dns';
import type { Queue, RecipientOutcome } from '@homing/queue';
import type { Config } from '../../config/config-types';
import type { RecipientResolution } from '../local-delivery/recipient-resolver';
import type { EventLog } from '../observability/observability-types';
import { dsnRequestOf } from './dsn-request';
import { outboundQueue } from './outbound-queue';

/** What the worker needs. */
export interface OutboundWorkerOptions {
  queue: Queue;
  /** The config at start: hostname, relay and source addresses are read once (a restart changes them). */
  config: Config;
  /** Our domains and the recipient tables now (a reload changes them). */
  domains: () => readonly string[];
  resolveRecipient: (address: string) => RecipientResolution;
  resolver: Resolver;
  log: EventLog;
  /** Called after a settle that queued reports, so local delivery takes them at once. */
  onReportsQueued: () => void;
  /** How often an idle worker looks for due work; default 250 ms. */
  pollIntervalMs?: number;
  /** DKIM-signs the reports that go to remote senders (report-signing.ts). */
  signReport?: (message: Buffer) => Buffer;
}

/** The running worker. */
export interface OutboundWorker {
  /** Stops claiming; resolves once the deliveries in flight are settled and the sessions closed. */
  stop(): Promise<void>;
}

/** The smarthost of `relay:`, with the password read from its file (first line). */
export async function smarthostOf(relay: NonNullable<Config['relay']>): Promise<Smarthost> {
  const smarthost: Smarthost = {
    host: relay.host,
    port: relay.port,
    // RFC 8314: 465 is implicit TLS; anything else starts in clear and must STARTTLS before AUTH.
    ...(relay.port === 465 ? { tls: 'implicit' as const } : {}),
  };
  if (relay.username !== undefined && relay.passwordFile !== undefined) {
    const text = await readFile(relay.passwordFile, 'utf8').catch((error: unknown) => {
      throw new Error(`cannot read relay.password_file ${relay.passwordFile}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    const password = text.split(/\r?\n/)[0] ?? '';
    if (password === '') throw new Error(`relay.password_file ${relay.passwordFile} is empty`);
    smarthost.auth = { user: relay.username, pass: password };
  }
  return smarthost;
}

/** The delivery agent's options from the config. */
export async function deliveryOptions(config: Config, resolver: Resolver, log: EventLog): Promise<DeliveryOptions> {
  const options: DeliveryOptions = {
    resolver,
    hostname: config.hostname,
    port: config.remotePort,
    mtaSts: createMtaStsSource({ resolver }),
    addressPreference: config.outbound.ipv6 === false ? 'ipv4-only' : 'ipv6',
    logger: log.libraryLogger('delivery'),
  };
  const localAddress: { ipv4?: string; ipv6?: string } = {};
  if (config.outbound.ipv4 !== undefined) localAddress.ipv4 = config.outbound.ipv4;
  if (typeof config.outbound.ipv6 === 'string') localAddress.ipv6 = config.outbound.ipv6;
  if (Object.keys(localAddress).length > 0) options.localAddress = localAddress;
  if (config.relay !== undefined) options.smarthost = await smarthostOf(config.relay);
  return options;
}

function logOutcome(log: EventLog, id: string, sender: string, outcome: RecipientOutcome): void {
  log.event(/^[0-9a-f]{16}$/.test(id) ? id : log.runId, 'outbound', outcome.status, {
    queueid: id,
    from: `<${sender}>`,
    to: `<${outcome.recipient}>`,
    reply: outcome.reply,
  });
}

/** Starts the outbound worker; it runs until `stop()`. */
export async function startOutboundWorker(options: OutboundWorkerOptions): Promise<OutboundWorker> {
  const { config, log } = options;
  const agent = createDeliveryAgent(await deliveryOptions(config, options.resolver, log));
  const queue = outboundQueue(options.queue, {
    domains: options.domains,
    resolveRecipient: options.resolveRecipient,
    hostname: () => config.hostname,
    ...(options.signReport === undefined ? {} : { sign: options.signReport }),
    onSettled(claim, outcomes, followUps) {
      for (const outcome of outcomes) logOutcome(log, claim.id, claim.sender, outcome);
      for (const report of followUps) {
        log.event(log.runId, 'outbound', 'report-queued', {
          queueid: claim.id,
          kind: report.envelope.attributes?.report,
          to: report.envelope.recipients.map((r) => `<${r}>`).join(','),
        });
      }
      if (followUps.length > 0) options.onReportsQueued();
    },
  });
  const stopping = new AbortController();
  const running = runDeliveryWorker({
    queue,
    agent,
    hostname: config.hostname,
    signal: stopping.signal,
    pollIntervalMs: options.pollIntervalMs ?? 250,
    logger: log.libraryLogger('delivery'),
    reportOptions: (claim) => dsnRequestOf(claim.attributes),
  });
  log.event(log.runId, 'outbound', 'started', {
    relay: config.relay === undefined ? undefined : `${config.relay.host}:${config.relay.port}`,
    port: config.relay === undefined ? config.remotePort : undefined,
    ipv6: config.outbound.ipv6 === false ? false : undefined,
  });
  return {
    async stop() {
      stopping.abort();
      await running;
      await agent.close();
    },
  };
}
