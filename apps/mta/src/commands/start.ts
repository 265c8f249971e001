import { join } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/config-types';
import { developmentConfig } from '../config/development-default';
import { loadConfig } from '../config/load-config';
import { formatAddress } from '../server/listen-addresses';
import { createEventLog } from '../server/observability/event-log';
import { createMetrics } from '../server/observability/metrics';
import { startServer } from '../server/start-server';

/** Where `homing start` looks for its config when `--config` is not given. */
export const DEFAULT_CONFIG = '/etc/homing/homing.yml';

interface StartFlags {
  config?: string;
  dev?: boolean;
  logFormat: string;
  logTimestamps?: boolean;
  grace: string;
}

/** `homing start`: the mail server, until SIGTERM or SIGINT; SIGHUP reloads. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the mail server: MX with filters, queue, local delivery to Maildir')
    .option('--config <file>', `the config file (default ${DEFAULT_CONFIG})`)
    .option('--dev', 'run on the embedded development default (example.test on 127.0.0.1:2525, state in ./var)')
    .option('--log-format <format>', 'text (key=value lines) or json (pino)', 'text')
    .option('--log-timestamps', 'start each text line with an ISO 8601 UTC time (journald and syslog add their own)')
    .option('--grace <seconds>', 'how long SIGTERM lets sessions in progress finish', '30')
    .addHelpText(
      'after',
      '\nSignals: SIGHUP (or `homing reload`) re-reads the config, users and certificates; SIGTERM stops.',
    )
    .action(async (flags: StartFlags) => {
      process.exitCode = await start(flags);
    });
}

async function start(flags: StartFlags): Promise<number> {
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') {
    process.stderr.write(`homing: --log-format must be text or json, not ${JSON.stringify(flags.logFormat)}\n`);
    return 2;
  }
  const grace = Number(flags.grace);
  if (!Number.isFinite(grace) || grace < 0) {
    process.stderr.write(`homing: --grace must be a number of seconds, not ${JSON.stringify(flags.grace)}\n`);
    return 2;
  }
  if (flags.dev && flags.config) {
    process.stderr.write('homing: give either --dev or --config, not both\n');
    return 2;
  }
  // A closed stdout (a log reader that went away) must not take the mail server down with it.
  process.stdout.on('error', () => {});
  const log = createEventLog({ format: flags.logFormat, timestamps: flags.logTimestamps === true });
  let config: Config;
  const notes: string[] = [];
  try {
    if (flags.dev) {
      const dev = await developmentConfig({ root: process.cwd() });
      // No DNS is reachable on the development default: no check may query one, not even the
      // system resolver, whose traffic would leave the machine.
      config = { ...dev.config, offline: true };
      notes.push(...dev.notes);
      const password = dev.password ?? '(unchanged; see var/dev-password)';
      notes.push(`development user: dev@example.test password: ${password}`);
    } else {
      config = await loadConfig(flags.config ?? DEFAULT_CONFIG);
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }

  const metrics = createMetrics();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, {
      log,
      metrics,
      reloadConfig: flags.dev
        ? async () => ({ ...(await developmentConfig({ root: process.cwd() })).config, offline: true })
        : undefined,
    });
  } catch (error) {
    process.stderr.write(`homing: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  // The signal handlers are in place before the started line: a supervisor (or a test) may
  // signal the moment it reads that line.
  const stopped = new Promise<number>((resolve) => {
    const onHup = () => {
      void server.reload();
    };
    const stop = (signal: string) => {
      log.event(log.runId, 'server', 'stopping', { signal, grace: grace });
      process.off('SIGHUP', onHup);
      server.close(grace * 1000).then(
        () => {
          log.event(log.runId, 'server', 'stopped', {});
          resolve(0);
        },
        (error: unknown) => {
          log.event(log.runId, 'server', 'stop-failed', {
            error: error instanceof Error ? error.message : String(error),
          });
          resolve(1);
        },
      );
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const listen = server.addresses;
  log.event(log.runId, 'server', 'started', {
    hostname: config.hostname,
    domains: config.domains.join(','),
    mx: listen.mx.map(formatAddress).join(',') || 'off',
    submission: listen.submission.map(formatAddress).join(',') || 'off',
    submissions: listen.submissions.map(formatAddress).join(',') || 'off',
    metrics: listen.metrics.map(formatAddress).join(',') || 'off',
    control: config.listen.control,
    state: config.state,
  });
  for (const note of notes) log.event(log.runId, 'server', 'note', { text: note });
  if (flags.dev) {
    const mx = listen.mx[0];
    if (mx) {
      log.event(log.runId, 'server', 'try', {
        text: `swaks --server ${mx.host} --port ${mx.port} --from someone@example.net --to dev@example.test`,
      });
    }
    log.event(log.runId, 'server', 'mail', {
      text: `delivered mail goes to ${join(config.state, 'mail', 'example.test', 'dev', 'new')}`,
    });
  }

  return stopped;
}
