// Test helpers: a temp directory per test, and an EventLog and Metrics that record what the
// worker reports (the observability contract, so the assertions read the worker's own output).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog, LibraryLogger, LogFields, Metrics } from '../../src/server/observability/observability-types';

export interface RecordedEvent {
  id: string;
  subsystem: string;
  event: string;
  fields: LogFields;
}

export function recordingLog(): EventLog & { events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  const logger: LibraryLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    child: () => logger,
  };
  return {
    events,
    event(id, subsystem, event, fields = {}) {
      events.push({ id, subsystem, event, fields });
    },
    libraryLogger: () => logger,
    newId: () => randomBytes(8).toString('hex'),
    runId: '0000000000000000',
  };
}

export function recordingMetrics(): Metrics & { deliveries: string[] } {
  const deliveries: string[] = [];
  return {
    deliveries,
    connectionOpened: () => undefined,
    connectionClosed: () => undefined,
    messageAccepted: () => undefined,
    messageRejected: () => undefined,
    junked: () => undefined,
    localDelivery: (result, folder) => {
      deliveries.push(`${result} ${folder}`);
    },
    dnsFailure: () => undefined,
    setQueueSizeSource: () => undefined,
    render: async () => '',
    contentType: 'text/plain',
  };
}

export async function temporaryDirectory(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `homing-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** The names in a directory, sorted; [] when it does not exist. */
export async function names(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

/** Waits until `check` is true (polling), or fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
