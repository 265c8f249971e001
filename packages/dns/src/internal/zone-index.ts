// The test server's zones, indexed for answering: entries by canonical name, every name that exists (with
// empty non-terminals, RFC 8020), and the zone apex of each name.
import type { ZoneEntry, Zones } from '../zones';
import { canonicalName } from './name';

/** Zones indexed by canonical (lower-case) name. */
export interface ZoneIndex {
  readonly entries: ReadonlyMap<string, ZoneEntry>;
  /** Names that exist: listed ones and their ancestors up to the apex (empty non-terminals). */
  readonly existing: ReadonlySet<string>;
}

/**
 * Indexes plain-object zones. An owner whose leftmost label is `*` is a wildcard (RFC 4592 2.1.1); a `*` anywhere
 * else is an ordinary octet of a label, as the RFC says.
 */
export function indexZones(zones: Zones): ZoneIndex {
  const entries = new Map<string, ZoneEntry>();
  for (const [name, entry] of Object.entries(zones)) entries.set(canonicalName(name), entry);
  const index = { entries, existing: new Set<string>() };
  for (const name of entries.keys()) {
    const apex = apexOf(index, name);
    const labels = name.split('.');
    for (let start = 0; start < labels.length; start++) {
      const ancestor = labels.slice(start).join('.');
      index.existing.add(ancestor);
      if (ancestor === apex) break;
    }
  }
  return index;
}

/**
 * The apex of the zone that holds `name`: the nearest listed ancestor (or the name) with an SOA, else the
 * topmost listed ancestor (zones written as plain objects need no SOA); undefined when no zone holds it.
 */
export function apexOf(index: Pick<ZoneIndex, 'entries'>, name: string): string | undefined {
  let topmost: string | undefined;
  let at = name;
  for (;;) {
    const entry = index.entries.get(at);
    if (entry?.SOA) return at;
    if (entry) topmost = at;
    const dot = at.indexOf('.');
    if (dot === -1) return topmost;
    at = at.slice(dot + 1);
  }
}

/**
 * RFC 4592 3.3.1: the wildcard entry that answers for `name`, which does not exist: `*.` + its closest
 * encloser (the longest existing ancestor), if that is listed, with the name it is listed under.
 */
export function wildcardFor(
  index: ZoneIndex,
  name: string,
  apex: string,
): { owner: string; entry: ZoneEntry } | undefined {
  let at = name;
  while (at !== apex) {
    const dot = at.indexOf('.');
    if (dot === -1) return undefined;
    at = at.slice(dot + 1);
    if (index.existing.has(at)) {
      const owner = `*.${at}`;
      const entry = index.entries.get(owner);
      return entry === undefined ? undefined : { owner, entry };
    }
  }
  return undefined;
}
