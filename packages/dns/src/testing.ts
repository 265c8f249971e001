// Public API of @homing/dns/testing: exported by name, nothing else.

/** A query the server received: `{ name, type, transport }`. */
export type { QueryLogEntry } from './internal/zone-answer';
/**
 * The loopback server: `startDnsServer({ zones, port?, host? })` starts it on UDP and TCP; `DnsServer` is the
 * running server (address, queries, setZones, close); `DnsServerOptions` its options.
 */
export { type DnsServer, type DnsServerOptions, startDnsServer } from './test-server';
/**
 * Zone files: `parseZoneFile(text, options?)` parses RFC 1035 master-file text into zones, `readZoneFiles(paths)`
 * reads and merges files, `ZoneFileError` (code BADZONE) says file, line and column, `ZoneFileOptions` its options.
 */
export { parseZoneFile, readZoneFiles, ZoneFileError, type ZoneFileOptions } from './zone-file';
/** Zones as plain objects: `Zones` (owner name → `ZoneEntry`: records, TTL, AD bit, fault switches), `SoaData`. */
export type { SoaData, ZoneEntry, Zones } from './zones';
