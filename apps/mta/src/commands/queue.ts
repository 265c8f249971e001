import { stat } from 'node:fs/promises';
import { type FileQueueOptions, type MessageInfo, openFileQueue, type Queue } from '@homing/queue';
import type { Command } from 'commander';
import { CommandError, notFoundError, usageError } from '../command-error';
import type { QueueConfig } from '../config/config-types';
import { defaultConfigFile, loadConfig } from '../config/load-config';
import { callControl } from '../server/control/control-client';
import { runControlCommand } from '../server/control/control-commands';
import { isControlError } from '../server/control/control-error';
import { locateServer } from '../server/control/locate-server';
import { describeQueue, migrateServerQueue, openServerQueue } from '../server/open-server-queue';

interface QueueCommandOptions {
  spool?: string;
  config?: string;
  json?: boolean;
  sender?: string;
  recipient?: string;
  domain?: string;
  state?: string;
}

const states = ['pending', 'deferred', 'delivered', 'failed', 'held'];
// list and show only read: with no server running they open the spool read-only, which works
// even while another process holds it; the others change it and need it to themselves.
const readOnlyCommands = new Set(['queue.list', 'queue.show']);

function addCommonOptions(command: Command): Command {
  return command
    .option(
      '--config <file>',
      `the server's config, to find its control socket and spool (default ${defaultConfigFile})`,
    )
    .option('--spool <dir>', 'work on this spool directory directly (default: $HOMING_SPOOL)')
    .option('--json', 'print one JSON object on one line');
}

function inUse(spool: string, hint: string): Error {
  return new Error(`the spool ${spool} is in use by another process, most likely a running homing server; ${hint}`);
}

/** Runs the command on the PostgreSQL queue itself (no lock: hosts share it), as the control socket would. */
async function onPostgres(config: QueueConfig, command: string, args: Record<string, unknown>) {
  let queue: Queue;
  try {
    queue = await openServerQueue({ queue: config }, { spool: '' });
  } catch (error) {
    throw new Error(
      `cannot open the queue ${describeQueue({ queue: config }, '')}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    const refuse = async () => ({ ok: false as const, error: 'not a server' });
    return await runControlCommand({ queue, reload: refuse, status: () => ({}) }, command, args);
  } finally {
    await queue.close();
  }
}

/** Runs the command on the spool itself, through the same code the control socket runs. */
async function onSpool(spool: string, command: string, args: Record<string, unknown>, busyHint: string) {
  const info = await stat(spool).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw new Error(`spool directory ${spool} does not exist: pass the --spool DIR the server uses`);
  }
  const readOnly = readOnlyCommands.has(command);
  // `readOnly` is new in @homing/queue; passed as a variable so the call compiles on either side of that change.
  const options = { spool, readOnly };
  let queue: Queue;
  try {
    queue = await openFileQueue(options as FileQueueOptions);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'LOCKED') throw inUse(spool, busyHint);
    throw new Error(`cannot open the spool ${spool}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    for (const { file, reason } of queue.recovery.corrupt) {
      process.stderr.write(`homing: warning: damaged spool file ${file}: ${reason}\n`);
    }
    const refuse = async () => ({ ok: false as const, error: 'not a server' });
    return await runControlCommand({ queue, reload: refuse, status: () => ({}) }, command, args);
  } finally {
    await queue.close();
  }
}

/**
 * Runs one queue command where the operator pointed: `--spool DIR` (or HOMING_SPOOL) on that spool;
 * otherwise through the control socket of the server of `--config`, or, when no server answers
 * there, on that config's spool directly. The result is the same value either way.
 */
async function execute(options: QueueCommandOptions, command: string, args: Record<string, unknown>): Promise<unknown> {
  if (options.spool !== undefined && options.config !== undefined) {
    throw usageError('give --config FILE (through the server) or --spool DIR (the spool itself), not both');
  }
  const envSpool = process.env.HOMING_SPOOL;
  const spool = options.spool ?? (options.config === undefined && envSpool !== '' ? envSpool : undefined);
  let outcome: Awaited<ReturnType<typeof runControlCommand>>;
  if (spool !== undefined) {
    outcome = await onSpool(spool, command, args, 'run the command with --config FILE to go through the server');
  } else {
    const file = options.config ?? defaultConfigFile;
    const location = await locateServer(file);
    if (location.configProblem !== undefined) {
      process.stderr.write(
        `homing: warning: ${file} has errors (see homing config check ${file}); using its control socket and spool anyway\n`,
      );
    }
    try {
      outcome = { result: await callControl(location.control, command, args) };
    } catch (error) {
      if (!isControlError(error)) throw error;
      if (error.code === 'NOT_RUNNING' && location.queue !== undefined) {
        outcome = await onPostgres(location.queue, command, args);
      } else if (error.code === 'NOT_RUNNING') {
        outcome = await onSpool(
          location.spool,
          command,
          args,
          `yet nothing answers on its control socket ${location.control}: is the server stuck, or running with another listen.control?`,
        );
      } else {
        outcome = { error: { code: error.code, message: error.message } };
      }
    }
  }
  if ('error' in outcome) {
    const { code, message } = outcome.error;
    if (code === 'NOT_FOUND') throw notFoundError(`${message} (see homing queue list)`);
    throw new CommandError(code, message);
  }
  return outcome.result;
}

function print(options: QueueCommandOptions, value: unknown, text: string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

function summary(message: MessageInfo): string {
  const counts = new Map<string, number>();
  for (const r of message.recipients) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const state = [...counts].map(([name, count]) => `${count} ${name}`).join(', ');
  const when = new Date(message.createdAt).toISOString();
  const recipients = message.recipients.map((r) => r.address).join(' ');
  return `${message.id}  ${String(message.size).padStart(8)}  ${when}  ${message.held ? 'HELD ' : ''}${state}  <${message.sender}> -> ${recipients}`;
}

function details(message: MessageInfo): string {
  const lines = [
    `id: ${message.id}`,
    `sender: <${message.sender}>`,
    `queued: ${new Date(message.createdAt).toISOString()}`,
    `size: ${message.size}`,
    `held: ${message.held ? 'yes' : 'no'}`,
  ];
  for (const [name, value] of Object.entries(message.attributes)) lines.push(`${name}: ${value}`);
  for (const r of message.recipients) {
    const next =
      r.state === 'pending' || r.state === 'deferred' ? ` next ${new Date(r.nextAttemptAt).toISOString()}` : '';
    const reply = r.reply === undefined ? '' : ` reply "${r.reply}"`;
    lines.push(
      `recipient: ${r.address} ${r.state}${r.expired ? ' (expired)' : ''} attempts ${r.attempts}${next}${reply}`,
    );
  }
  return lines.join('\n');
}

/** Adds `homing queue list|show|hold|release|remove|flush`, through the running server or on its spool. */
export function registerQueueCommand(program: Command): void {
  const queue = addCommonOptions(
    program
      .command('queue')
      .description('Inspect and manage the mail queue, through the running server or on its spool directly'),
  );

  addCommonOptions(queue.command('list').description('List queued messages, oldest first'))
    .option('--sender <address>', 'only messages from this sender')
    .option('--recipient <address>', 'only messages to this recipient')
    .option('--domain <domain>', 'only messages with a recipient at this domain')
    .option('--state <state>', `only messages with a recipient in this state (${states.join(', ')})`)
    .action(async (_options, command: Command) => {
      const options = command.optsWithGlobals<QueueCommandOptions>();
      if (options.state !== undefined && !states.includes(options.state)) {
        throw usageError(`--state must be one of ${states.join(', ')}, not "${options.state}"`);
      }
      const args: Record<string, unknown> = {};
      for (const key of ['sender', 'recipient', 'domain', 'state'] as const) {
        if (options[key] !== undefined) args[key] = options[key];
      }
      const { messages } = (await execute(options, 'queue.list', args)) as { messages: MessageInfo[] };
      const text = messages.length === 0 ? 'the queue is empty' : messages.map(summary).join('\n');
      print(options, { messages }, text);
    });

  addCommonOptions(queue.command('show').argument('<id>', 'the message id').description('Show one message')).action(
    async (id: string, _options, command: Command) => {
      const options = command.optsWithGlobals<QueueCommandOptions>();
      const message = (await execute(options, 'queue.show', { id })) as MessageInfo;
      print(options, message, details(message));
    },
  );

  const simple: [string, string, string][] = [
    ['hold', 'Keep a message from being delivered until released', 'held'],
    ['release', 'Let a held message be delivered again', 'released'],
    ['remove', 'Delete a message and all its recipients, without a bounce', 'removed'],
  ];
  for (const [name, description, done] of simple) {
    addCommonOptions(queue.command(name).argument('<id>', 'the message id').description(description)).action(
      async (id: string, _options, command: Command) => {
        const options = command.optsWithGlobals<QueueCommandOptions>();
        const result = await execute(options, `queue.${name}`, { id });
        print(options, result, `${done} ${id}`);
      },
    );
  }

  queue
    .command('migrate')
    .option(
      '--config <file>',
      `the server's config, whose queue: postgres://... it migrates (default ${defaultConfigFile})`,
    )
    .option('--json', 'print one JSON object on one line')
    .description('Create or upgrade the PostgreSQL queue schema of the config (every host runs the same version)')
    .action(async (_options, command: Command) => {
      const options = command.optsWithGlobals<QueueCommandOptions>();
      const file = options.config ?? defaultConfigFile;
      const config = await loadConfig(file);
      const report = await migrateServerQueue(config);
      const where = describeQueue(config, '');
      const text =
        report.from === report.to
          ? `the queue schema at ${where} is at version ${report.to}, nothing to do`
          : `migrated the queue schema at ${where} from version ${report.from} to ${report.to}`;
      print(options, report, text);
    });

  addCommonOptions(
    queue
      .command('flush')
      .argument('[id]', 'one message id (default: every message)')
      .description('Make deferred messages due now (they are tried at the next queue run)'),
  ).action(async (id: string | undefined, _options, command: Command) => {
    const options = command.optsWithGlobals<QueueCommandOptions>();
    const { rescheduled } = (await execute(options, 'queue.flush', id === undefined ? {} : { id })) as {
      rescheduled: number;
    };
    print(options, { rescheduled }, `rescheduled ${rescheduled} message${rescheduled === 1 ? '' : 's'}`);
  });
}
