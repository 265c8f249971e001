// The pino-compatible logger the @homing libraries take, turned into event lines. The libraries
// log `logger.info({ id, address }, 'smtp connected')`: the message names the event (after the
// subsystem, when it repeats it), `id` is the session, the other keys are the fields.

import { isEventId } from './log-line-format';
import type { LibraryLogger, LogFields } from './observability-types';

/** A log level a library may use. */
export type LevelName = 'debug' | 'info' | 'warn' | 'error';

interface LibraryLoggerContext {
  subsystem: string;
  runId: string;
  debug: boolean;
  emit(level: LevelName, id: string, subsystem: string, event: string, fields: LogFields | undefined): void;
}

const SINGLE_WORD = /^[a-z0-9][a-z0-9._-]*$/;

/** A field value a line can hold: errors by their message (and code), objects as JSON. */
function fieldValue(value: unknown): string | number | boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function toFields(object: Record<string, unknown>): LogFields {
  const fields: LogFields = {};
  for (const [key, value] of Object.entries(object)) {
    fields[key] = fieldValue(value);
    // The code says more than the message to someone grepping (ECONNRESET, STORAGE_UNAVAILABLE).
    const code = value instanceof Error ? (value as { code?: unknown }).code : undefined;
    if (typeof code === 'string') fields[`${key}_code`] = code;
  }
  return fields;
}

/** The event a library's message names: one word, or `{subsystem} word`; anything else is `log` with `msg`. */
function eventOf(subsystem: string, message: string | undefined): { event: string; msg?: string } {
  if (message === undefined || message === '') return { event: 'log' };
  const word = message.startsWith(`${subsystem} `) ? message.slice(subsystem.length + 1) : message;
  return SINGLE_WORD.test(word) ? { event: word } : { event: 'log', msg: message };
}

/** Creates the library logger of one subsystem; `child` bindings become fields of every line. */
export function createLibraryLogger(
  context: LibraryLoggerContext,
  bindings: Record<string, unknown> = {},
): LibraryLogger {
  const log =
    (level: LevelName) =>
    (object: object | string, message?: string): void => {
      if (level === 'debug' && !context.debug) return;
      const given: Record<string, unknown> =
        typeof object === 'string' ? { ...bindings } : { ...bindings, ...(object as Record<string, unknown>) };
      const text = typeof object === 'string' ? object : message;
      const { id, ...rest } = given;
      const { event, msg } = eventOf(context.subsystem, text);
      const fields = toFields(rest);
      if (msg !== undefined) fields.message = msg;
      let lineId = context.runId;
      if (typeof id === 'string' && isEventId(id)) lineId = id;
      else if (id !== undefined) fields.ref = fieldValue(id);
      context.emit(level, lineId, context.subsystem, event, fields);
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more) => createLibraryLogger(context, { ...bindings, ...more }),
  };
}
