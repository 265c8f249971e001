import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createResolver, type Resolver } from '@homing/dns';
import type { Queue } from '@homing/queue';
import { createServer, type SmtpServer } from '@homing/smtp/server';
import type { Config } from '../config/config-types';
import { loadConfig } from '../config/load-config';
import { hashPassword, readUsersFile, verifyPassword } from '../users/users-file';
import { startAcmeServices } from './acme/acme-services';
import { type DkimKeys, loadDkimKeys, zoneLine } from './dkim/dkim-keys';
import { createMxHooks, type InboundContext } from './inbound/mx-hooks';
import { type BoundAddress, formatAddress, listenAll } from './listen-addresses';
import { startLocalDeliveryWorker } from './local-delivery/local-delivery-worker';
import { createMaildirStore } from './local-delivery/maildir';
import { createRecipientResolver, type RecipientResolution } from './local-delivery/recipient-resolver';
import type { EventLog, Metrics } from './observability/observability-types';
import { describeQueue, openServerQueue } from './open-server-queue';
import { createForwarder } from './outbound/forwarding';
import { type OutboundWorker, startOutboundWorker } from './outbound/outbound-worker';
import { reportSigner } from './outbound/report-signing';
import { failureReports, successReports } from './outbound/reports';
import { createSrs, loadSrsSecret } from './outbound/srs';
import { sendTestCommands, watchSettles } from './reflector/send-test';
import { type Services, startServices } from './server-services';
import { AuthThrottle } from './submission/auth-throttle';
import { createSubmissionHooks, type SubmissionContext } from './submission/submission-hooks';
import { VerificationGate } from './submission/verification-gate';

/** What `startServer` needs besides the config. */
export interface StartServerOptions {
  log: EventLog;
  metrics: Metrics;
  /** Re-reads the config on reload (default: `loadConfig(config.source)`). */
  reloadConfig?: () => Promise<Config>;
}

/** A running server. */
export interface RunningServer {
  /** The addresses each listener is bound to. */
  readonly addresses: {
    mx: BoundAddress[];
    submission: BoundAddress[];
    submissions: BoundAddress[];
    metrics: BoundAddress[];
  };
  readonly config: Config;
  /** Re-reads config, users and certificates; a bad config is refused and the old one stays. */
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Stops accepting, lets sessions finish within `graceMs`, then closes the queue. */
  close(graceMs?: number): Promise<void>;
}

/** The parts that a reload replaces, read through functions by the hooks. */
interface LiveState {
  config: Config;
  resolver: Resolver;
  resolve: (address: string) => RecipientResolution;
  users: string[];
  /** User address -> password hash. */
  hashes: Map<string, string>;
  /** User address -> the addresses they may send as. */
  owned: Map<string, Set<string>>;
  /** The DKIM keys of our domains (generated on first start when not configured). */
  dkim: DkimKeys;
}

/** A user's own address and the aliases whose only target is that user. */
function ownedAddresses(users: readonly string[], aliases: Record<string, string[]>): Map<string, Set<string>> {
  const owned = new Map(users.map((user) => [user.toLowerCase(), new Set([user.toLowerCase()])]));
  for (const [alias, targets] of Object.entries(aliases)) {
    if (alias.startsWith('@') || targets.length !== 1) continue;
    owned.get(targets[0]!.toLowerCase())?.add(alias.toLowerCase());
  }
  return owned;
}

async function readTls(config: Config): Promise<{ key: Buffer; cert: Buffer }> {
  const [key, cert] = await Promise.all([readFile(config.tls.key), readFile(config.tls.cert)]);
  return { key, cert };
}

async function buildLiveState(config: Config, log: EventLog): Promise<LiveState> {
  const { users, problems } = await readUsersFile(config.users);
  for (const problem of problems) {
    log.event(log.runId, 'config', 'users-line-skipped', {
      file: config.users,
      line: problem.line,
      reason: problem.message,
    });
  }
  const addresses = users.map((u) => u.address);
  const postmaster = config.postmaster.length > 0 ? config.postmaster : addresses.slice(0, 1);
  const recipients = createRecipientResolver({
    domains: config.domains,
    users: addresses,
    aliases: config.aliases,
    postmaster,
  });
  const resolver = createResolver({
    servers: config.dns.length > 0 ? config.dns : undefined,
    timeoutMs: Math.max(500, Math.floor(config.filters.timeoutMs / 2)),
    logger: log.libraryLogger('dns'),
  });
  return {
    config,
    resolver,
    resolve: (address) => recipients.resolve(address),
    users: addresses,
    hashes: new Map(users.map((u) => [u.address.toLowerCase(), u.hash])),
    owned: ownedAddresses(addresses, config.aliases),
    dkim: await loadDkimKeys(config).then((dkim) => {
      for (const key of dkim.keys.filter((k) => k.generated)) {
        log.event(log.runId, 'dkim', 'key-generated', { domain: key.domain, selector: key.selector, file: key.file });
      }
      for (const key of dkim.keys) log.event(log.runId, 'dkim', 'publish', { record: zoneLine(key) });
      return dkim;
    }),
  };
}

/**
 * The smtp library's logger, less its `smtp connected` line: the hooks log a richer one (with the
 * client's host name) once the connect filters ran.
 */
function smtpLogger(log: EventLog) {
  const logger = log.libraryLogger('smtp');
  const info = logger.info.bind(logger);
  logger.info = (obj: object | string, msg?: string) => {
    if (msg === 'smtp connected') return;
    info(obj, msg);
  };
  return logger;
}

/** Starts `homing start`: the queue, local delivery, the MX listeners, metrics and the control socket. */
export async function startServer(initial: Config, options: StartServerOptions): Promise<RunningServer> {
  const { log, metrics } = options;
  const state = initial.state;
  const spool = join(state, 'spool');
  const tmpDir = join(state, 'tmp');
  const mailRoot = join(state, 'mail');
  await Promise.all([spool, tmpDir, mailRoot].map((dir) => mkdir(dir, { recursive: true, mode: 0o700 })));

  let live = await buildLiveState(initial, log);
  // Watched, so `homing doctor --send` learns how its test message was settled.
  const settles = watchSettles(await openServerQueue(initial, { spool, logger: log.libraryLogger('queue') }));
  const queue: Queue = settles.queue;
  const recovery = queue.recovery;
  log.event(log.runId, 'queue', 'opened', {
    // The file spool's directory, or the PostgreSQL queue's connection string without its password.
    ...(initial.queue === undefined ? { spool } : { queue: describeQueue(initial, spool) }),
    messages: recovery.messages,
    removed: recovery.removedTemporary,
    corrupt: recovery.corrupt.length,
  });

  const store = createMaildirStore({ root: mailRoot, hostname: initial.hostname });
  // Reports to remote senders are DKIM-signed like the mail our users send.
  const signReport = reportSigner({
    hostname: () => live.config.hostname,
    domains: () => live.config.domains,
    signatures: (domain) => live.dkim.signaturesFor(domain),
  });
  const localDelivery = startLocalDeliveryWorker({
    queue,
    // Functions, so that a reload's domains and quota apply without a restart.
    domains: () => live.config.domains,
    store,
    quota: () => live.config.quota,
    log,
    metrics,
    // Issue 14 item 5: a local failure (expired, invalid mailbox) is reported to its sender.
    bounces: (claim, failed) =>
      failureReports(queue, claim, failed, {
        domains: () => live.config.domains,
        resolveRecipient: (address) => live.resolve(address),
        hostname: () => live.config.hostname,
        sign: signReport,
      }),
    // NOTIFY=SUCCESS: a "delivered" report (RFC 3461 6.2.1 a), in the same settle as the delivery.
    successes: (claim, delivered) =>
      successReports(queue, claim, delivered, {
        domains: () => live.config.domains,
        resolveRecipient: (address) => live.resolve(address),
        hostname: () => live.config.hostname,
        sign: signReport,
      }),
  });

  // Issue 14 item 7: forwarding with SRS (bounces to an SRS address go back to the original sender).
  const srs = createSrs(await loadSrsSecret(state));
  const resolveWithSrs = (address: string): RecipientResolution => {
    const resolution = live.resolve(address);
    if (resolution.kind !== 'unknown') return resolution;
    const original = srs.reverse(address);
    return original === undefined ? resolution : { kind: 'local', mailboxes: [], forwards: [original] };
  };
  const context: InboundContext = {
    config: () => live.config,
    resolver: () => live.resolver,
    resolveRecipient: resolveWithSrs,
    overQuota: async (mailbox) => {
      const quota = live.config.quota;
      return quota !== undefined && (await store.usage(mailbox)) >= quota;
    },
    queue: () => queue,
    log,
    metrics,
    tmpDir,
    onQueued: () => localDelivery.kick(),
    dkimSignatures: (domain) => live.dkim.signaturesFor(domain),
  };
  if (initial.offline !== true) {
    context.forwarder = createForwarder({
      queue: () => queue,
      srs,
      domain: () => live.config.domains[0]!,
      sealingKey: () => live.dkim.keys.find((k) => k.domain === live.config.domains[0] && k.algorithm === 'rsa'),
    });
  }

  // With tls.acme: the certificate under {state}/acme/ (a stand-in until the CA issued one).
  const acme = await startAcmeServices({ config: initial, liveConfig: () => live.config, log });
  const tls = await readTls(initial);
  const mx: SmtpServer = createServer({
    hostname: initial.hostname,
    tls,
    limits: {
      maxMessageSize: initial.limits.messageSize,
      maxRecipients: initial.limits.recipients,
      maxTextLine: initial.limits.lineLength,
      maxConnections: initial.limits.connections,
      maxConnectionsPerIp: initial.limits.connectionsPerIp,
      idleTimeoutMs: initial.limits.idleTimeoutMs,
      tlsHandshakeTimeoutMs: initial.limits.tlsHandshakeTimeoutMs,
    },
    hooks: createMxHooks(context),
    logger: smtpLogger(log),
  });

  // The hash of a random password, checked when the user does not exist.
  const dummyHash = await hashPassword(randomBytes(16).toString('hex'));
  // One argon2 at a time, so AUTH floods leave libuv's threads to the spool's fsyncs.
  const gate = new VerificationGate(1);
  const submissionContext: SubmissionContext = {
    ...context,
    async verifyUser(user, password) {
      const hash = live.hashes.get(user);
      // A missing user costs the same as a wrong password, so timing does not tell who exists.
      if (hash === undefined) {
        await gate.run(() => verifyPassword(password, dummyHash)).catch(() => false);
        return false;
      }
      return gate.run(() => verifyPassword(password, hash));
    },
    ownedAddresses: (user) => live.owned.get(user.toLowerCase()) ?? new Set(),
    throttle: new AuthThrottle(),
    // The development default has no DNS, so nothing can be sent to other domains.
    outbound: initial.offline !== true,
    dkimSignatures: (domain) => live.dkim.signaturesFor(domain),
  };
  const submissionServer = (listener: 'submission' | 'submissions'): SmtpServer =>
    createServer({
      hostname: initial.hostname,
      tls,
      auth: { mechanisms: ['PLAIN', 'LOGIN'], required: true },
      limits: {
        maxMessageSize: initial.limits.messageSize,
        maxRecipients: initial.limits.recipients,
        maxConnections: initial.limits.connections,
        maxConnectionsPerIp: initial.limits.connectionsPerIp,
        idleTimeoutMs: initial.limits.idleTimeoutMs,
        tlsHandshakeTimeoutMs: initial.limits.tlsHandshakeTimeoutMs,
      },
      hooks: createSubmissionHooks(submissionContext, listener),
      logger: smtpLogger(log),
    });
  const submission = submissionServer('submission');
  const submissions = submissionServer('submissions');
  const smtpServers = [mx, submission, submissions];
  acme?.onCertificate((next) => {
    for (const server of smtpServers) setServerTls(server, next);
  });

  let services: Services | undefined;
  const listening: RunningServer['addresses'] = { mx: [], submission: [], submissions: [], metrics: [] };
  try {
    listening.mx = await listenAll(mx, initial.listen.mx, false);
    listening.submission = await listenAll(submission, initial.listen.submission, false);
    listening.submissions = await listenAll(submissions, initial.listen.submissions, true);
  } catch (error) {
    await Promise.all(smtpServers.map((server) => server.close({ timeoutMs: 0 })));
    await localDelivery.stop();
    await acme?.close();
    await queue.close();
    throw error;
  }

  async function reload(): Promise<{ ok: true } | { ok: false; error: string }> {
    let next: Config;
    try {
      next = await (options.reloadConfig ?? (() => loadConfig(live.config.source)))();
      const nextLive = await buildLiveState(next, log);
      const nextTls = await readTls(next);
      for (const server of smtpServers) setServerTls(server, nextTls);
      live = nextLive;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.event(log.runId, 'server', 'reload-failed', { error: message });
      return { ok: false, error: message };
    }
    log.event(log.runId, 'server', 'reloaded', { config: next.source, users: live.users.length });
    // A domain added or a new renew_before: the ACME check sees it now rather than at its next timer.
    void acme?.manager.renew().catch(() => {});
    return { ok: true };
  }

  // Issue 14: the outbound worker on the same queue, for every domain but ours.
  let outbound: OutboundWorker | undefined;
  if (submissionContext.outbound) {
    outbound = await startOutboundWorker({
      queue,
      config: initial,
      domains: () => live.config.domains,
      // With SRS: a report on a forwarded copy (its sender an SRS address) goes to the original sender.
      resolveRecipient: resolveWithSrs,
      resolver: live.resolver,
      log,
      onReportsQueued: () => localDelivery.kick(),
      signReport,
    });
  }

  services = await startServices({
    config: initial,
    queue,
    metrics,
    log,
    reload,
    status: () => status(),
    commands: {
      ...acme?.commands,
      ...sendTestCommands({
        config: () => live.config,
        queue,
        watch: (id) => settles.watch(id),
        dkimSignatures: (domain) => live.dkim.signaturesFor(domain),
        resolveRecipient: (address) => live.resolve(address),
        mailRoot,
        log,
      }),
    },
  });
  listening.metrics = services.metricsAddresses;

  function status(): object {
    return {
      config: live.config.source,
      hostname: live.config.hostname,
      domains: live.config.domains,
      listen: Object.fromEntries(Object.entries(listening).map(([k, v]) => [k, v.map(formatAddress)])),
      smtp: { mx: mx.stats(), submission: submission.stats(), submissions: submissions.stats() },
    };
  }

  let closing: Promise<void> | undefined;
  return {
    addresses: listening,
    get config() {
      return live.config;
    },
    reload,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        await Promise.all(smtpServers.map((server) => server.close({ timeoutMs: graceMs })));
        await Promise.all([localDelivery.stop(), outbound?.stop()]);
        await acme?.close();
        await services?.close();
        await queue.close();
      })();
      return closing;
    },
  };
}

/**
 * Swaps the certificate the listeners present: the next STARTTLS (and the next implicit TLS
 * handshake) uses it; sessions already under TLS keep theirs.
 */
function setServerTls(server: SmtpServer, tls: { key: Buffer; cert: Buffer }): void {
  const withTls = server as unknown as { setTls?: (options: { key: Buffer; cert: Buffer }) => void };
  if (typeof withTls.setTls !== 'function') throw new Error('this @homing/smtp cannot change its certificate');
  withTls.setTls(tls);
}
