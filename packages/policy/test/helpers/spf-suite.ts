// Reads the official RFC 7208 test suite (test/fixtures/rfc7208-tests.yml) into scenarios whose
// zonedata is in the zone format of @homing/dns/testing, following pyspf's reading of zonedata
// (../shared/vectors/SOURCES.md): an SPF entry is served as TXT only when the name has no TXT
// entry; `TXT: NONE` means no TXT record; a TIMEOUT entry times out.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { ZoneEntry, Zones } from './memory-resolver';

/** One test of the suite. */
export interface SpfSuiteTest {
  name: string;
  helo: string;
  host: string;
  mailfrom: string;
  result: string[];
  explanation?: string;
}

/** One scenario (YAML document): its DNS and its tests. */
export interface SpfSuiteScenario {
  description: string;
  zones: Zones;
  tests: SpfSuiteTest[];
}

type RawEntry = string | Record<string, unknown>;

function toZoneEntry(entries: RawEntry[]): ZoneEntry {
  const entry: ZoneEntry = {};
  const txt: (string | string[])[] = [];
  const spf: (string | string[])[] = [];
  let txtNone = false;
  for (const item of entries) {
    if (item === 'TIMEOUT') {
      entry.timeout = true;
      continue;
    }
    const [type, value] = Object.entries(item as Record<string, unknown>)[0] as [string, unknown];
    if (type === 'TXT' && value === 'NONE') txtNone = true;
    else if (type === 'TXT') txt.push(value as string | string[]);
    else if (type === 'SPF') spf.push(value as string | string[]);
    else if (type === 'MX') {
      const [priority, exchange] = value as [number, string];
      entry.MX = [...(entry.MX ?? []), { priority, exchange }];
    } else if (type === 'A' || type === 'AAAA' || type === 'PTR' || type === 'CNAME') {
      entry[type] = [...(entry[type] ?? []), String(value)];
    } else throw new Error(`unexpected zonedata type ${type}`);
  }
  if (txt.length > 0) entry.TXT = txt;
  else if (!txtNone && spf.length > 0) entry.TXT = spf;
  // In pyspf's reading, TIMEOUT applies to the types the name has no record of. The zone format
  // times out a whole name, so a name that has records (only spftimeout.example.net: a TXT record,
  // and a timeout meant for type SPF queries, which RFC 7208 no longer makes) answers instead.
  if (entry.timeout && (entry.TXT || entry.A || entry.AAAA || entry.MX || entry.PTR)) delete entry.timeout;
  return entry;
}

/** Loads every scenario of the suite file. */
export function loadSpfSuite(path: string): SpfSuiteScenario[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'));
  const scenarios: SpfSuiteScenario[] = [];
  for (const document of documents) {
    const data = document.toJS() as {
      description: string;
      tests: Record<string, Record<string, unknown>>;
      zonedata?: Record<string, RawEntry[]>;
    } | null;
    if (!data) continue;
    const zones: Zones = {};
    for (const [name, entries] of Object.entries(data.zonedata ?? {})) zones[name] = toZoneEntry(entries ?? []);
    const tests = Object.entries(data.tests).map(([name, test]) => ({
      name,
      helo: String(test.helo),
      host: String(test.host),
      mailfrom: String(test.mailfrom ?? ''),
      result: ([] as unknown[]).concat(test.result).map(String),
      explanation: test.explanation === undefined ? undefined : String(test.explanation),
    }));
    scenarios.push({ description: data.description, zones, tests });
  }
  return scenarios;
}
