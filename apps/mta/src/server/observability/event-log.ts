// The server's event log: one line per event on stdout, as key=value text (the default, for people,
// grep and fail2ban) or as pino JSON (`--log-format json`, for log shippers). Text lines carry no
// time by default because journald and syslog stamp each line themselves; `timestamps: true` adds
// an ISO 8601 UTC time in front for a plain file.

import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import pino from 'pino';
import { createLibraryLogger, type LevelName } from './library-logger';
import { formatEventLine, isEventId, orderedFields } from './log-line-format';
import type { EventLog, LibraryLogger, LogFields } from './observability-types';

/** Options of `createEventLog`. */
export interface EventLogOptions {
  /** `text`: `{id} {subsystem} {event} key=value ...`; `json`: one pino JSON object per line. */
  format: 'text' | 'json';
  /**
   * Where lines go, each with its own write (default process.stdout, where the lines of one turn of
   * the event loop go out in one write: see LineBatch).
   */
  stream?: Writable;
  /** Milliseconds since the epoch (default Date.now): the JSON `time` and the text time prefix. */
  clock?: () => number;
  /** Text only: start each line with an ISO 8601 UTC time (default false: journald/syslog add one). */
  timestamps?: boolean;
  /** Also write the libraries' debug lines (default false). */
  debug?: boolean;
  /** The run id, the id of lines outside a session (default a new random one). */
  runId?: string;
}

/** A new 16-hex id: 64 random bits, so ids of one run and of different runs do not collide in practice. */
export function newEventId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The lines of one turn of the event loop, written together: a busy server logs a few lines per
 * message, and a write(2) to the stdout pipe each (waking the reader each time) took about 6% of
 * the main thread of `homing start` in a profile under bench/mta-accept (a new connection per
 * message). A line waits at most until the loop's check
 * phase (setImmediate); lines still waiting when the process exits are written then.
 */
class LineBatch implements LineSink {
  private pending = '';
  private static readonly waiting = new Set<LineBatch>();
  private static exitHooked = false;

  constructor(private readonly stream: Writable) {}

  write(text: string): boolean {
    if (this.pending === '') {
      LineBatch.waiting.add(this);
      setImmediate(() => this.flush());
      if (!LineBatch.exitHooked) {
        LineBatch.exitHooked = true;
        process.once('exit', () => {
          for (const batch of LineBatch.waiting) batch.flush();
        });
      }
    }
    this.pending += text;
    return true;
  }

  flush(): void {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    LineBatch.waiting.delete(this);
    this.stream.write(text);
  }
}

/** What the writers write lines to: a stream, or the batch in front of stdout. */
interface LineSink {
  write(text: string): unknown;
}

type Writer = (level: LevelName, id: string, subsystem: string, event: string, fields: LogFields | undefined) => void;

function textWriter(stream: LineSink, clock: () => number, timestamps: boolean): Writer {
  return (level, id, subsystem, event, fields) => {
    let line = formatEventLine(id, subsystem, event, fields, timestamps ? clock() : undefined);
    if (level !== 'info') line += ` level=${level}`;
    stream.write(`${line}\n`);
  };
}

function jsonWriter(stream: LineSink, clock: () => number, debug: boolean): Writer {
  const logger = pino(
    {
      level: debug ? 'debug' : 'info',
      base: undefined,
      timestamp: () => `,"time":${clock()}`,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return (level, id, subsystem, event, fields) => {
    const object: Record<string, string | number | boolean> = { id, subsystem, event };
    for (const [key, value] of orderedFields(fields)) object[key] = value;
    logger[level](object);
  };
}

/** Creates the event log of one server run. */
export function createEventLog(options: EventLogOptions): EventLog {
  const stream: LineSink = options.stream ?? new LineBatch(process.stdout);
  const clock = options.clock ?? Date.now;
  const debug = options.debug ?? false;
  const runId = options.runId ?? newEventId();
  if (!isEventId(runId)) throw new TypeError(`runId must be 16 lower-case hex digits, not "${runId}"`);
  const write =
    options.format === 'json'
      ? jsonWriter(stream, clock, debug)
      : textWriter(stream, clock, options.timestamps === true);

  // An id that is not 16-hex (a caller's bug) must not make a line that tools cannot parse: the
  // line takes the run id and keeps the given one as `ref`.
  const emit: Writer = (level, id, subsystem, event, fields) => {
    if (isEventId(id)) write(level, id, subsystem, event, fields);
    else write(level, runId, subsystem, event, { ...fields, ref: id });
  };

  return {
    runId,
    newId: newEventId,
    event(id: string, subsystem: string, event: string, fields?: LogFields): void {
      emit('info', id, subsystem, event, fields);
    },
    libraryLogger(subsystem: string): LibraryLogger {
      return createLibraryLogger({ subsystem, runId, debug, emit });
    },
  };
}
