// `homing doctor --send ADDRESS`: a test message through the running server's own outbound path
// (queue, DKIM signing, delivery, by the control socket), the session it takes (MX, family and
// source address, TLS, each reply), and when ADDRESS is a Homing reflector, its report, graded.
import { readFile } from 'node:fs/promises';
import type { DeliverySession } from '@homing/delivery';
import { createResolver } from '@homing/dns';
import type { Command } from 'commander';
import { usageError } from '../command-error';
import { defaultConfigFile, loadConfig } from '../config/load-config';
import { callControl } from '../server/control/control-client';
import { isControlError } from '../server/control/control-error';
import { locateServer } from '../server/control/locate-server';
import type { ReflectorReport, ReportCheck } from '../server/reflector/reflector-report';
import { deliveredSession, probeSession, type SessionProbe } from '../server/reflector/session-probe';
import { EXIT_NOT_RUNNING } from './reload';

/** Options of `homing doctor --send`. */
export interface DoctorSendOptions {
  config?: string;
  from?: string;
  /** Seconds to wait for a reflector's report (0: do not wait). */
  wait?: string;
  ca?: string;
  json?: boolean;
}

interface SendOutcome {
  queueId: string;
  messageId: string;
  from: string;
  to: string;
  state: 'pending' | 'deferred' | 'delivered' | 'failed';
  attempts: number;
  reply?: string | null;
  signed: boolean;
  /** The session that carried it, when outbound delivery opened one. */
  session?: DeliverySession;
}

/** The whole result, as `--json` prints it. */
export interface DoctorSendResult {
  address: string;
  from: string;
  queueId: string;
  messageId: string;
  delivery: { state: SendOutcome['state']; reply: string | null; attempts: number; signed: boolean };
  session: SessionProbe;
  report: ReflectorReport | null;
  checks: ReportCheck[];
  status: 'ok' | 'error';
}

/** The graded lines: delivery and TLS from here, then every check of the reflector's report. */
export function gradeSend(outcome: SendOutcome, session: SessionProbe, report: ReflectorReport | null): ReportCheck[] {
  const checks: ReportCheck[] = [
    {
      name: 'delivery',
      status: outcome.state === 'delivered' ? 'pass' : 'fail',
      message: `${outcome.state} after ${outcome.attempts} attempt(s)${outcome.reply ? `: ${outcome.reply}` : ''}`,
    },
    {
      name: 'dkim-signed',
      status: outcome.signed ? 'pass' : 'fail',
      message: outcome.signed ? 'signed with our DKIM key' : 'no DKIM key for the sender domain',
    },
    session.tls === undefined
      ? {
          name: 'session-tls',
          status: 'fail',
          message: session.error ?? `${session.host ?? 'the MX'} offers no STARTTLS`,
        }
      : {
          name: 'session-tls',
          status: session.tls.verified ? 'pass' : 'warn',
          message: `${session.tls.version} ${session.tls.cipher}, certificate ${session.tls.verified ? 'verified' : `not verified (${session.tls.error})`}`,
        },
  ];
  if (report !== null) {
    for (const check of report.checks) checks.push({ ...check, name: `report.${check.name}` });
  }
  return checks;
}

/** ok when delivered and, with a report, SPF, DKIM and DMARC pass in it. */
export function overall(checks: ReportCheck[], report: ReflectorReport | null): 'ok' | 'error' {
  const must = ['delivery', ...(report === null ? [] : ['report.spf', 'report.dkim', 'report.dmarc'])];
  return must.every((name) => checks.find((check) => check.name === name)?.status === 'pass') ? 'ok' : 'error';
}

function render(result: DoctorSendResult): string {
  const { session } = result;
  const lines = [
    `test message ${result.messageId} from <${result.from}> to <${result.address}>, queued as ${result.queueId}`,
    `delivery: ${result.delivery.state}${result.delivery.reply ? `: ${result.delivery.reply}` : ''}`,
    `MX of ${session.domain}: ${session.mx.join(', ') || 'none'}`,
    session.host === undefined
      ? `session: ${session.error ?? 'no MX'}`
      : `session${session.probe ? ' (probe: no session carried the message)' : ''}: ${session.host} [${session.address ?? '?'}] port ${session.port}, ${session.family ?? '?'} from ${session.source ?? '?'}`,
    ...(session.tls
      ? [
          `TLS: ${session.tls.version} ${session.tls.cipher}, certificate ${session.tls.verified ? 'verified' : `not verified (${session.tls.error})`}`,
        ]
      : []),
    ...session.replies.map(({ command, reply }) => `  ${command} -> ${reply.split(/\r?\n/).join(' | ')}`),
    ...(session.error && session.host !== undefined ? [`session error: ${session.error}`] : []),
    result.report === null
      ? 'no reflector report came back (not a Homing reflector, or it did not answer in time)'
      : `report of ${result.report.reflector} (it saw the message from ${result.report.client.ip}, HELO ${result.report.client.helo ?? 'none'}):`,
  ];
  const width = Math.max(...result.checks.map((check) => check.name.length));
  for (const check of result.checks)
    lines.push(`  ${check.name.padEnd(width)}  ${check.status.padEnd(4)}  ${check.message}`);
  lines.push(result.status === 'ok' ? 'ok' : 'error: see the lines marked fail');
  return `${lines.join('\n')}\n`;
}

/** Runs `homing doctor --send ADDRESS`; resolves the exit code (0 ok, 1 a must-pass check failed, 3 no server). */
export async function runDoctorSend(address: string, options: DoctorSendOptions): Promise<number> {
  const file = options.config ?? defaultConfigFile;
  const config = await loadConfig(file);
  const { control } = await locateServer(file);
  const waitSeconds = options.wait === undefined ? 60 : Number(options.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
    throw usageError(`--wait ${options.wait} is not a number of seconds`);
  const ca = options.ca
    ? [
        await readFile(options.ca, 'utf8').catch((error: Error) => {
          throw new Error(`cannot read --ca ${options.ca}: ${error.message}`);
        }),
      ]
    : undefined;
  let outcome: SendOutcome;
  try {
    outcome = (await callControl(
      control,
      'send.test',
      { to: address, ...(options.from ? { from: options.from } : {}), timeoutMs: 60_000 },
      { timeoutMs: 90_000 },
    )) as SendOutcome;
  } catch (error) {
    if (isControlError(error, 'NOT_RUNNING')) {
      process.stderr.write(`homing: no server is running: nothing answers on its control socket ${control}\n`);
      return EXIT_NOT_RUNNING;
    }
    throw error;
  }
  const resolver = createResolver(config.dns.length > 0 ? { servers: config.dns } : {});
  const session = outcome.session
    ? await deliveredSession(address, outcome.session, resolver)
    : await probeSession({
        recipient: address,
        resolver,
        hostname: config.hostname,
        port: config.remotePort,
        source: config.outbound ?? {},
        ...(ca ? { ca } : {}),
      });
  let report: ReflectorReport | null = null;
  const deadline = Date.now() + waitSeconds * 1000;
  while (outcome.state === 'delivered' && waitSeconds > 0) {
    const found = (await callControl(control, 'send.report', { messageId: outcome.messageId, from: outcome.from })) as {
      found: boolean;
      report?: ReflectorReport;
    };
    if (found.found && found.report) {
      report = found.report;
      break;
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const checks = gradeSend(outcome, session, report);
  const result: DoctorSendResult = {
    address,
    from: outcome.from,
    queueId: outcome.queueId,
    messageId: outcome.messageId,
    delivery: {
      state: outcome.state,
      reply: outcome.reply ?? null,
      attempts: outcome.attempts,
      signed: outcome.signed,
    },
    session,
    report,
    checks,
    status: overall(checks, report),
  };
  process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : render(result));
  return result.status === 'ok' ? 0 : 1;
}

/** The options `--send` adds to `homing doctor` (so the doctor command can take them too). */
export function addDoctorSendOptions(command: Command): Command {
  return command
    .option(
      '--send <address>',
      'send a test message through the running server and report its session (and a reflector report)',
    )
    .option('--from <address>', 'with --send: the sender, one of our addresses (default postmaster@ our first domain)')
    .option('--wait <seconds>', 'with --send: how long to wait for a reflector report (default 60, 0 for none)');
}
