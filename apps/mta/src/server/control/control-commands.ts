// What each control command does with the running server's queue, reload and status. The results
// are the very values `homing queue ... --json` prints, so the command line shows the same thing
// whether it asked the server or opened the spool itself.

import { isQueueError, type ListFilter, type Queue } from '@homing/queue';
import { ControlError } from './control-error';

/** The server's side of `reload`: re-read config and certificates, or say why not. */
export type ReloadHandler = () => Promise<{ ok: true } | { ok: false; error: string }>;

/** A command a part of the server adds (e.g. `acme.renew`): args in, the JSON result out. */
export type ControlHandler = (args: Record<string, unknown>) => Promise<unknown>;

/** What the commands work on. */
export interface ControlTarget {
  queue: Queue;
  reload: ReloadHandler;
  status: () => object;
  /** More commands by name, from the parts of the server that are on (ACME, ...). */
  commands?: Record<string, ControlHandler>;
}

const STATES = ['pending', 'deferred', 'delivered', 'failed', 'held'];
const FILTER_STRINGS = ['sender', 'recipient', 'domain'] as const;

function messageId(args: Record<string, unknown>): string {
  const { id } = args;
  if (typeof id !== 'string' || id === '' || id.length > 256) {
    throw new ControlError('BAD_REQUEST', 'args.id must be the message id, a non-empty string');
  }
  return id;
}

/** The list filter from args; refuses what the queue would not understand rather than ignoring it. */
export function listFilter(args: Record<string, unknown>): ListFilter {
  const filter: ListFilter = {};
  for (const key of Object.keys(args)) {
    if (![...FILTER_STRINGS, 'state', 'limit'].includes(key)) {
      throw new ControlError('BAD_REQUEST', `unknown filter ${key}: use sender, recipient, domain, state or limit`);
    }
  }
  for (const key of FILTER_STRINGS) {
    const value = args[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new ControlError('BAD_REQUEST', `args.${key} must be a string`);
    filter[key] = value;
  }
  if (args.state !== undefined) {
    if (typeof args.state !== 'string' || !STATES.includes(args.state)) {
      throw new ControlError('BAD_REQUEST', `args.state must be one of ${STATES.join(', ')}`);
    }
    filter.state = args.state as ListFilter['state'];
  }
  if (args.limit !== undefined) {
    if (typeof args.limit !== 'number' || !Number.isInteger(args.limit) || args.limit < 1) {
      throw new ControlError('BAD_REQUEST', 'args.limit must be a positive integer');
    }
    filter.limit = args.limit;
  }
  return filter;
}

async function dispatch(target: ControlTarget, command: string, args: Record<string, unknown>): Promise<unknown> {
  const { queue } = target;
  switch (command) {
    case 'queue.list':
      return { messages: await queue.list(listFilter(args)) };
    case 'queue.show': {
      const id = messageId(args);
      const message = await queue.inspect(id);
      if (message === undefined) throw new ControlError('NOT_FOUND', `no message ${id} in the queue`);
      return message;
    }
    case 'queue.hold': {
      const id = messageId(args);
      await queue.hold(id);
      return { id, held: true };
    }
    case 'queue.release': {
      const id = messageId(args);
      await queue.release(id);
      return { id, released: true };
    }
    case 'queue.remove': {
      const id = messageId(args);
      await queue.remove(id);
      return { id, removed: true };
    }
    case 'queue.flush': {
      const id = args.id === undefined ? undefined : messageId(args);
      return { rescheduled: await queue.reschedule(id) };
    }
    case 'reload': {
      const outcome = await target.reload();
      if (!outcome.ok) throw new ControlError('RELOAD_FAILED', outcome.error);
      return { reloaded: true };
    }
    case 'status':
      return target.status();
    default:
      if (target.commands !== undefined && Object.hasOwn(target.commands, command)) {
        return target.commands[command]!(args);
      }
      throw new ControlError('UNKNOWN_COMMAND', `unknown command ${JSON.stringify(command)}`);
  }
}

/** Runs one command; any failure comes back as `{ code, message }` (a queue error keeps its code). */
export async function runControlCommand(
  target: ControlTarget,
  command: string,
  args: Record<string, unknown>,
): Promise<{ result: unknown } | { error: { code: string; message: string } }> {
  try {
    return { result: await dispatch(target, command, args) };
  } catch (error) {
    if (error instanceof ControlError) return { error: { code: error.code, message: error.message } };
    if (isQueueError(error)) return { error: { code: error.code, message: error.message } };
    return { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } };
  }
}
