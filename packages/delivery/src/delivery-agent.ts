import { setMaxListeners } from 'node:events';
import { hostname as osHostname } from 'node:os';
import { createResolver } from '@homing/dns';
import type { ClientTimeouts, ClientTlsOptions } from '@homing/smtp/client';
import { DeliveryError } from './delivery-error';
import { createHostsLookup } from './hosts-file';
import { type DeliveryContext, deliverToDomain } from './internal/domain-delivery';
import { Limiter } from './internal/limiter';
import { PreparedBody, type PreparedMessage } from './internal/prepared-message';
import { SessionPool } from './internal/session-pool';
import type { Smarthost } from './internal/smarthost';
import type { Logger } from './logger';
import type { MessageSource } from './message-source';
import { createMtaStsSource, type MtaStsPolicySource } from './mta-sts-source';
import { type AddressPreference, type DeliveryResolver, domainOfAddress, toALabelDomain } from './mx-routing';
import { failAll, type RecipientOutcome } from './recipient-outcome';
import { classifyFailure } from './reply-class';
import { type TlsDomainCounters, TlsReportCounters } from './tls-report';

export type { Smarthost } from './internal/smarthost';

export type { DeliveryLogger, Logger } from './logger';

/** Options of `createDeliveryAgent` and `deliver` (defaults in the README). */
export interface DeliveryOptions {
  /**
   * DNS lookups (MX, A, AAAA, TLSA). Default: `@homing/dns`'s `createResolver()` (the system's
   * name servers), and then MTA-STS is on by default too.
   */
  resolver?: DeliveryResolver;
  /** Our EHLO name. Default `os.hostname()`. */
  hostname?: string;
  /** Port of the MX hosts. Default 25. */
  port?: number;
  /** Relay everything through this host (its name looked up like an MX host's: hosts file, then DNS). */
  smarthost?: Smarthost;
  /**
   * The hosts file consulted for MX and smarthost names before DNS (the system's `files dns`
   * order), with `localhost` always the loopback host (RFC 6761 6.3); `false` for DNS only.
   * Default `/etc/hosts`.
   */
  hostsFile?: string | false;
  /**
   * Where MTA-STS policies come from; `false` for none. Default: `createMtaStsSource()` over the
   * default resolver when `resolver` is not given; none when it is (pass
   * `createMtaStsSource({ resolver })` to have it).
   */
  mtaSts?: MtaStsPolicySource | false;
  /** Enforce DANE where DNSSEC-signed TLSA records exist. Default true. */
  dane?: boolean;
  /** Extra `tls.connect` options (e.g. `ca`) for authenticated TLS. */
  tls?: Omit<ClientTlsOptions, 'mode'>;
  addressPreference?: AddressPreference;
  /** Source address of outgoing connections per family (the address whose PTR remote servers check). */
  localAddress?: { ipv4?: string; ipv6?: string };
  /** Sessions open at once. Default 100. */
  maxConnections?: number;
  /** Transactions at once per recipient domain. Default 10. */
  maxConnectionsPerDomain?: number;
  /** Recipients per transaction; a domain with more gets several transactions. Default 100. */
  maxRecipients?: number;
  /** Messages per session. Default 100. */
  maxMessagesPerConnection?: number;
  /** Idle pooled sessions are closed after this. Default 5000 ms. */
  idleTimeoutMs?: number;
  timeouts?: Partial<ClientTimeouts>;
  /** A pino-compatible `Logger`; delivery logs at `debug`, `info` and `warn`. */
  logger?: Logger;
}

/** The envelope of one message to deliver. */
export interface DeliveryEnvelope {
  /** Reverse-path; `''` for the null sender (bounces). */
  from: string;
  to: string[];
  /** DSN ENVID (RFC 3461 4.4), passed on when the server offers DSN. */
  envelopeId?: string;
  /** DSN RET (RFC 3461 4.3), passed on when the server offers DSN. */
  ret?: 'FULL' | 'HDRS';
  /** Per recipient DSN NOTIFY and ORCPT (RFC 3461 4.1, 4.2), passed on when the server offers DSN. */
  recipientDsn?: Record<string, RecipientDsn>;
}

/** One recipient's DSN parameters as the sender gave them (RFC 3461 4.1, 4.2). */
export interface RecipientDsn {
  notify?: readonly ('NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY')[];
  /** The original recipient's address (sent as `ORCPT=<type>;...`). */
  originalRecipient?: string;
  /** Its address type as the sender gave it (RFC 3461 4.2: passed on unchanged); default `rfc822`. */
  originalRecipientType?: string;
}

/** Each recipient's outcome, in the order of `envelope.to`. */
export interface DeliveryResult {
  recipients: RecipientOutcome[];
}

/** A long-lived delivery agent: session pool, limits, TLS counters. */
export interface DeliveryAgent {
  /**
   * Delivers one message, given whole or as a `MessageSource` opened per transaction; resolves
   * with every recipient's outcome (never rejects for a delivery problem).
   */
  deliver(
    envelope: DeliveryEnvelope,
    message: string | Uint8Array | MessageSource,
    options?: { signal?: AbortSignal },
  ): Promise<DeliveryResult>;
  /** TLS-RPT style counters per domain and policy. */
  tlsReport(): TlsDomainCounters[];
  /** Closes idle sessions (QUIT); later deliveries are deferred. */
  close(): Promise<void>;
}

/** The domain recipients are grouped by: A-labels, or an address literal as it is (RFC 5321 4.1.3). */
function routingDomain(domain: string): string {
  return domain.startsWith('[') ? domain.toLowerCase() : toALabelDomain(domain);
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Creates a delivery agent (see `DeliveryOptions`). */
export function createDeliveryAgent(options: DeliveryOptions = {}): DeliveryAgent {
  const maxConnections = options.maxConnections ?? 100;
  const perDomain = options.maxConnectionsPerDomain ?? 10;
  const maxRecipients = options.maxRecipients ?? 100;
  const report = new TlsReportCounters();
  const pool = new SessionPool(maxConnections, options.maxMessagesPerConnection ?? 100, options.idleTimeoutMs ?? 5000);
  const domainLimits = new Map<string, { limiter: Limiter; users: number }>();
  const closing = new AbortController();
  // Every pooled session and every waiting delivery listens to this one signal.
  setMaxListeners(0, closing.signal);
  let resolver = options.resolver;
  let mtaSts = options.mtaSts === false ? undefined : options.mtaSts;
  if (resolver === undefined) {
    const dns = createResolver();
    resolver = dns;
    if (options.mtaSts === undefined) mtaSts = createMtaStsSource({ resolver: dns });
  }
  const context: DeliveryContext = {
    resolver,
    hostname: options.hostname ?? osHostname(),
    port: options.port ?? 25,
    smarthost: options.smarthost,
    mtaSts,
    dane: options.dane ?? true,
    tls: options.tls ?? {},
    addressPreference: options.addressPreference ?? 'ipv6',
    localAddress: options.localAddress ?? {},
    timeouts: options.timeouts,
    pool,
    sessionSignal: closing.signal,
    report,
    logger: options.logger ?? SILENT,
    hosts: options.hostsFile === false ? false : createHostsLookup({ path: options.hostsFile ?? '/etc/hosts' }),
  };

  async function limited<T>(domain: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    let entry = domainLimits.get(domain);
    if (entry === undefined) {
      entry = { limiter: new Limiter(perDomain), users: 0 };
      domainLimits.set(domain, entry);
    }
    entry.users += 1;
    try {
      await entry.limiter.acquire(signal);
      try {
        return await run();
      } finally {
        entry.limiter.release();
      }
    } finally {
      entry.users -= 1;
      if (entry.users === 0) domainLimits.delete(domain);
    }
  }

  return {
    async deliver(envelope, message, deliverOptions = {}) {
      const signal = deliverOptions.signal ? AbortSignal.any([deliverOptions.signal, closing.signal]) : closing.signal;
      setMaxListeners(0, signal);
      const prepared: PreparedMessage = {
        from: envelope.from,
        body: new PreparedBody(
          typeof message === 'string'
            ? Buffer.from(message, 'utf8')
            : message instanceof Uint8Array
              ? Buffer.from(message.buffer, message.byteOffset, message.byteLength)
              : message,
        ),
        ...(envelope.envelopeId === undefined ? {} : { envelopeId: envelope.envelopeId }),
        ...(envelope.ret === undefined ? {} : { ret: envelope.ret }),
        ...(envelope.recipientDsn === undefined ? {} : { recipientDsn: envelope.recipientDsn }),
      };
      const outcomes = new Map<string, RecipientOutcome>();
      const byDomain = new Map<string, string[]>();
      for (const address of new Set(envelope.to)) {
        try {
          const domain = options.smarthost ? '' : routingDomain(domainOfAddress(address));
          const list = byDomain.get(domain) ?? [];
          list.push(address);
          byDomain.set(domain, list);
        } catch (error) {
          outcomes.set(address, failAll([address], classifyFailure(error))[0]!);
        }
      }
      // RFC 5321 4.5.3.1.8: servers must take 100 recipients per message; more go in further transactions.
      const batches: [string, string[]][] = [];
      for (const [domain, recipients] of byDomain) {
        for (let start = 0; start < recipients.length; start += maxRecipients) {
          batches.push([domain, recipients.slice(start, start + maxRecipients)]);
        }
      }
      await Promise.all(
        batches.map(async ([domain, recipients]) => {
          let results: RecipientOutcome[];
          if (signal.aborted) {
            const reason = 'delivery agent closed or aborted';
            results = failAll(recipients, { status: 'deferred', enhanced: '4.3.2', reason });
          } else {
            results = await limited(domain, signal, () =>
              deliverToDomain(context, domain, recipients, prepared, signal),
            ).catch((error: unknown) => {
              const failure = classifyFailure(
                signal.aborted
                  ? new DeliveryError('ABORTED', 'delivery agent closed or aborted', { cause: error })
                  : error,
              );
              return failAll(recipients, failure);
            });
          }
          for (const result of results) outcomes.set(result.recipient, result);
        }),
      );
      return { recipients: envelope.to.map((address) => outcomes.get(address)!) };
    },
    tlsReport: () => report.snapshot(),
    async close() {
      closing.abort(new DeliveryError('ABORTED', 'delivery agent closed'));
      await pool.closeAll();
    },
  };
}

/** Delivers one message with a throw-away agent, then closes its sessions. */
export async function deliver(
  envelope: DeliveryEnvelope,
  message: string | Uint8Array | MessageSource,
  options: DeliveryOptions & { signal?: AbortSignal },
): Promise<DeliveryResult> {
  const agent = createDeliveryAgent(options);
  try {
    return await agent.deliver(envelope, message, options.signal === undefined ? {} : { signal: options.signal });
  } finally {
    await agent.close();
  }
}
