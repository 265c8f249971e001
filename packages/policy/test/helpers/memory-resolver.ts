// An in-memory resolver for unit tests that keeps the @homing/dns contract exactly: the zone
// format of `startDnsServer`, answers `{ name, records, ttl, authenticated }`, and failures as
// errors with a `code` (NXDOMAIN, NODATA, SERVFAIL, TIMEOUT, BADNAME).
import type { Answer, MxRecord, Resolver } from '../../src/internal/resolver';

/** One name's data, in the zone format of @homing/dns/testing. */
export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  TXT?: (string | string[])[];
  PTR?: string[];
  CNAME?: string[];
  ttl?: number;
  authenticated?: boolean;
  timeout?: boolean;
  servfail?: boolean;
}

/** Names to their data. */
export type Zones = Record<string, ZoneEntry>;

class MemoryDnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME';

function normalise(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** The in-addr.arpa or ip6.arpa name of an address. */
export function reverseName(ip: string): string {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::');
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const fill = ip.includes('::') ? new Array(8 - headGroups.length - tailGroups.length).fill('0') : [];
    const hex = [...headGroups, ...fill, ...tailGroups].map((group) => group.padStart(4, '0')).join('');
    return `${[...hex].reverse().join('.')}.ip6.arpa`;
  }
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** A resolver answering from `zones`; `queries` logs each lookup as "TYPE name". */
export function createMemoryResolver(zones: Zones): Resolver & { queries: string[] } {
  const table = new Map(Object.entries(zones).map(([name, entry]) => [normalise(name), entry]));
  const queries: string[] = [];

  function lookup<T>(name: string, type: RecordType, depth = 0): Answer<T> {
    const key = normalise(name);
    if (depth === 0) queries.push(`${type} ${key}`);
    if (key.length > 253 || key.split('.').some((label) => label.length > 63 || label.length === 0)) {
      throw new MemoryDnsError('BADNAME', `bad name ${name}`);
    }
    const entry = table.get(key);
    if (entry?.timeout) throw new MemoryDnsError('TIMEOUT', `timeout for ${name}`);
    if (entry?.servfail) throw new MemoryDnsError('SERVFAIL', `servfail for ${name}`);
    if (!entry) throw new MemoryDnsError('NXDOMAIN', `${name} does not exist`);
    if (type !== 'CNAME' && entry.CNAME?.[0]) {
      // RFC 1034 3.6.2: follow the chain; a loop is a server failure.
      if (depth > 8) throw new MemoryDnsError('SERVFAIL', `CNAME loop at ${name}`);
      return { ...lookup<T>(entry.CNAME[0], type, depth + 1), name };
    }
    const raw = entry[type] as unknown[] | undefined;
    if (!raw || raw.length === 0) throw new MemoryDnsError('NODATA', `${name} has no ${type}`);
    const records = (type === 'TXT' ? raw.map((item) => (Array.isArray(item) ? item.join('') : item)) : raw) as T[];
    return { name, records, ttl: entry.ttl ?? 300, authenticated: entry.authenticated ?? false };
  }

  const run =
    <T>(type: RecordType) =>
    async (name: string) =>
      lookup<T>(name, type);
  return {
    queries,
    resolveA: run<string>('A'),
    resolveAaaa: run<string>('AAAA'),
    resolveMx: run<MxRecord>('MX'),
    resolveTxt: run<string>('TXT'),
    resolvePtr: run<string>('PTR'),
    resolveCname: run<string>('CNAME'),
    resolveTlsa: async (name: string) => {
      throw new MemoryDnsError('NODATA', `${name} has no TLSA`);
    },
    reverse: async (ip: string) => lookup<string>(reverseName(ip), 'PTR'),
  };
}
