// The `queue:` key: absent or `file` for the file spool under `state`; a PostgreSQL connection
// string for a queue several hosts share, or `{ url, lease }` to also set how long a host keeps
// the work it claimed before another may take it over (the queue's default: 10 minutes).
import type { QueueConfig } from './config-types';
import { type Parsed, parseDuration, show } from './config-values';

const postgresUrl = /^postgres(ql)?:\/\/\S+$/;
const hint = 'give file (the default), postgres://user@host/database, or { url: postgres://..., lease: 2m }';

/** Parses the `queue:` value. */
export function parseQueue(input: unknown): Parsed<QueueConfig | undefined> {
  if (input == null || input === 'file') return { ok: true, value: undefined };
  if (typeof input === 'string' && postgresUrl.test(input.trim())) return { ok: true, value: { url: input.trim() } };
  if (typeof input === 'object' && !Array.isArray(input)) {
    const { url, lease, ...rest } = input as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) return { ok: false, message: `queue has no key ${unknown.join(', ')}; ${hint}` };
    if (typeof url !== 'string' || !postgresUrl.test(url.trim())) {
      return { ok: false, message: `queue.url ${show(url)} is not a postgres:// connection string; ${hint}` };
    }
    if (lease === undefined) return { ok: true, value: { url: url.trim() } };
    const leaseMs = parseDuration(lease, '2m');
    if (!leaseMs.ok) return leaseMs;
    return { ok: true, value: { url: url.trim(), leaseMs: leaseMs.value } };
  }
  return { ok: false, message: `${show(input)} is not a queue; ${hint}` };
}
