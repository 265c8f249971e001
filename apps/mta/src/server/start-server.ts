import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createResolver, type Resolver } from '@homing/dns';
import type { Queue } from '@homing/queue';
import { createServer, type SmtpServer } from '@homing/smtp/server';
import type { Config } from '../config/config-types';
import { loadConfig } from '../config/load-config';
import { hashPassword, readUsersFile, verifyPassword } from '../users/users-file';
import { createMxHooks, type InboundContext } from './inbound/mx-hooks';
import { type BoundAddress, formatAddress, listenAll } from './listen-addresses';
import { startLocalDeliveryWorker } from './local-delivery/local-delivery-worker';
import { createMaildirStore } from './local-delivery/maildir';
import { createRecipientResolver, type RecipientResolution } from './local-delivery/recipient-resolver';
import type { EventLog, Metrics } from './observability/observability-types';
import { openServerQueue } from './open-server-queue';
import { type Services, startServices } from './server-services';
import { AuthThrottle } from './submission/auth-throttle';
import { createSubmissionHooks, type SubmissionContext } from './submission/submission-hooks';

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
  const queue: Queue = await openServerQueue(initial, { spool, logger: log.libraryLogger('queue') });
  const recovery = queue.recovery;
  log.event(log.runId, 'queue', 'opened', {
    spool,
    messages: recovery.messages,
    removed: recovery.removedTemporary,
    corrupt: recovery.corrupt.length,
  });

  const store = createMaildirStore({ root: mailRoot, hostname: initial.hostname });
  const localDelivery = startLocalDeliveryWorker({
    queue,
    // Functions, so that a reload's domains and quota apply without a restart.
    domains: () => live.config.domains,
    store,
    quota: () => live.config.quota,
    log,
    metrics,
  });

  const context: InboundContext = {
    config: () => live.config,
    resolver: () => live.resolver,
    resolveRecipient: (address) => live.resolve(address),
    overQuota: async (mailbox) => {
      const quota = live.config.quota;
      return quota !== undefined && (await store.usage(mailbox)) >= quota;
    },
    queue: () => queue,
    log,
    metrics,
    tmpDir,
    onQueued: () => localDelivery.kick(),
  };

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
    },
    hooks: createMxHooks(context),
    logger: smtpLogger(log),
  });

  // The hash of a random password, checked when the user does not exist.
  const dummyHash = await hashPassword(randomBytes(16).toString('hex'));
  const submissionContext: SubmissionContext = {
    ...context,
    async verifyUser(user, password) {
      const hash = live.hashes.get(user);
      // A missing user costs the same as a wrong password, so timing does not tell who exists.
      if (hash === undefined) {
        await verifyPassword(password, dummyHash).catch(() => false);
        return false;
      }
      return verifyPassword(password, hash);
    },
    ownedAddresses: (user) => live.owned.get(user.toLowerCase()) ?? new Set(),
    throttle: new AuthThrottle(),
    outbound: false,
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
      },
      hooks: createSubmissionHooks(submissionContext, listener),
      logger: smtpLogger(log),
    });
  const submission = submissionServer('submission');
  const submissions = submissionServer('submissions');
  const smtpServers = [mx, submission, submissions];

  let services: Services | undefined;
  const listening: RunningServer['addresses'] = { mx: [], submission: [], submissions: [], metrics: [] };
  try {
    listening.mx = await listenAll(mx, initial.listen.mx, false);
    listening.submission = await listenAll(submission, initial.listen.submission, false);
    listening.submissions = await listenAll(submissions, initial.listen.submissions, true);
  } catch (error) {
    await Promise.all(smtpServers.map((server) => server.close({ timeoutMs: 0 })));
    await localDelivery.stop();
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
    return { ok: true };
  }

  services = await startServices({ config: initial, queue, metrics, log, reload, status: () => status() });
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
        await localDelivery.stop();
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
