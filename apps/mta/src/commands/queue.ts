import { stat } from 'node:fs/promises';
import { isQueueError, type ListFilter, type MessageInfo, openFileQueue, type Queue } from '@homing/queue';
import type { Command } from 'commander';

interface QueueCommandOptions {
  spool?: string;
  json?: boolean;
  sender?: string;
  recipient?: string;
  domain?: string;
  state?: string;
}

const states = ['pending', 'deferred', 'delivered', 'failed', 'held'];

function addCommonOptions(command: Command): Command {
  return command
    .option('--spool <dir>', 'the spool directory (default: $HOMING_SPOOL)')
    .option('--json', 'print one JSON object on one line');
}

/** Opens the spool named by --spool or HOMING_SPOOL, refusing to create one that is not there. */
async function openSpool(options: QueueCommandOptions): Promise<Queue> {
  const spool = options.spool ?? process.env.HOMING_SPOOL;
  if (spool === undefined || spool === '') throw new Error('no spool directory: pass --spool DIR or set HOMING_SPOOL');
  const info = await stat(spool).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw new Error(`spool directory ${spool} does not exist: pass the --spool DIR the server uses`);
  }
  try {
    const queue = await openFileQueue({ spool });
    for (const { file, reason } of queue.recovery.corrupt) {
      process.stderr.write(`homing: warning: damaged spool file ${file}: ${reason}\n`);
    }
    return queue;
  } catch (error) {
    throw new Error(`cannot open the spool ${spool}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Runs `work` on the open queue, turning queue errors into messages that say what to do. */
async function withQueue(
  command: Command,
  work: (queue: Queue, options: QueueCommandOptions) => Promise<void>,
): Promise<void> {
  const options = command.optsWithGlobals<QueueCommandOptions>();
  const queue = await openSpool(options);
  try {
    await work(queue, options);
  } catch (error) {
    if (isQueueError(error, 'NOT_FOUND')) throw new Error(`${error.message} (see homing queue list)`);
    throw error;
  } finally {
    await queue.close();
  }
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

/** Adds `homing queue list|show|hold|release|remove|flush` on a spool directory. */
export function registerQueueCommand(program: Command): void {
  const queue = addCommonOptions(
    program.command('queue').description('Inspect and manage the mail queue in a spool directory'),
  );

  addCommonOptions(queue.command('list').description('List queued messages, oldest first'))
    .option('--sender <address>', 'only messages from this sender')
    .option('--recipient <address>', 'only messages to this recipient')
    .option('--domain <domain>', 'only messages with a recipient at this domain')
    .option('--state <state>', `only messages with a recipient in this state (${states.join(', ')})`)
    .action(async (_options, command: Command) => {
      await withQueue(command, async (q, options) => {
        if (options.state !== undefined && !states.includes(options.state)) {
          throw new Error(`--state must be one of ${states.join(', ')}, not "${options.state}"`);
        }
        const filter: ListFilter = {};
        if (options.sender !== undefined) filter.sender = options.sender;
        if (options.recipient !== undefined) filter.recipient = options.recipient;
        if (options.domain !== undefined) filter.domain = options.domain;
        if (options.state !== undefined) filter.state = options.state as ListFilter['state'];
        const messages = await q.list(filter);
        const text = messages.length === 0 ? 'the queue is empty' : messages.map(summary).join('\n');
        print(options, { messages }, text);
      });
    });

  addCommonOptions(queue.command('show').argument('<id>', 'the message id').description('Show one message')).action(
    async (id: string, _options, command: Command) => {
      await withQueue(command, async (q, options) => {
        const message = await q.inspect(id);
        if (message === undefined) throw new Error(`no message ${id} in the queue (see homing queue list)`);
        print(options, message, details(message));
      });
    },
  );

  const simple: [string, string, (q: Queue, id: string) => Promise<void>, string][] = [
    ['hold', 'Keep a message from being delivered until released', (q, id) => q.hold(id), 'held'],
    ['release', 'Let a held message be delivered again', (q, id) => q.release(id), 'released'],
    ['remove', 'Delete a message and all its recipients, without a bounce', (q, id) => q.remove(id), 'removed'],
  ];
  for (const [name, description, act, done] of simple) {
    addCommonOptions(queue.command(name).argument('<id>', 'the message id').description(description)).action(
      async (id: string, _options, command: Command) => {
        await withQueue(command, async (q, options) => {
          await act(q, id);
          print(options, { id, [done]: true }, `${done} ${id}`);
        });
      },
    );
  }

  addCommonOptions(
    queue
      .command('flush')
      .argument('[id]', 'one message id (default: every message)')
      .description('Make deferred messages due now (they are tried at the next queue run)'),
  ).action(async (id: string | undefined, _options, command: Command) => {
    await withQueue(command, async (q, options) => {
      const count = await q.reschedule(id);
      print(options, { rescheduled: count }, `rescheduled ${count} message${count === 1 ? '' : 's'}`);
    });
  });
}
