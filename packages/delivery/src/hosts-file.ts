import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';

/** Addresses a name has in the system's static host table, or undefined when it has none there. */
export type HostsLookup = (name: string) => Promise<string[] | undefined>;

/** Options of `createHostsLookup`. */
export interface HostsLookupOptions {
  /** The hosts file (hosts(5) format). Default `/etc/hosts`. */
  path?: string;
  /** How long the parsed file is trusted before its mtime is checked again. Default 5000 ms. */
  recheckMs?: number;
  /** Milliseconds clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Parses hosts(5): `address name [aliases...]` per line, `#` starts a comment; names are case-insensitive. */
export function parseHostsFile(text: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    const address = fields[0]?.replace(/%.*$/, '') ?? '';
    if (fields.length < 2 || isIP(address) === 0) continue;
    for (const name of fields.slice(1)) {
      const key = name.toLowerCase().replace(/\.$/, '');
      const list = table.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      table.set(key, list);
    }
  }
  return table;
}

/**
 * The system's static host table as delivery consults it before DNS (the `files dns` order of
 * nsswitch.conf): the names an operator put in the hosts file. The file is read lazily, kept
 * parsed, and read again when its mtime changes (checked at most every `recheckMs`); a missing
 * or unreadable file is an empty table.
 */
export function createHostsLookup(options: HostsLookupOptions = {}): HostsLookup {
  const path = options.path ?? '/etc/hosts';
  const recheckMs = options.recheckMs ?? 5000;
  const now = options.now ?? Date.now;
  let table = new Map<string, string[]>();
  let mtime = -1;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    try {
      const info = await stat(path);
      if (info.mtimeMs !== mtime) {
        table = parseHostsFile(await readFile(path, 'utf8'));
        mtime = info.mtimeMs;
      }
    } catch {
      table = new Map();
      mtime = -1;
    }
    checkedAt = now();
  }

  return async (name) => {
    if (now() - checkedAt >= recheckMs) {
      loading ??= refresh().finally(() => {
        loading = undefined;
      });
      await loading;
    }
    const found = table.get(name.toLowerCase().replace(/\.$/, ''));
    return found === undefined ? undefined : [...found];
  };
}
