// Public API of @homing/dns/testing: exported by name, nothing else.

/** A query logged by the test server: `{ name, type, transport }`. */
export type { QueryLogEntry } from './internal/zone-answer';
/** Starts the loopback authoritative DNS server; its options and handle. */
export { type DnsServer, type DnsServerOptions, startDnsServer } from './test-server';
/** Reads RFC 1035 master-format zone files into zones. */
export { parseZoneFile, readZoneFiles, ZoneFileError, type ZoneFileOptions } from './zone-file';
/** Zone data as plain objects. */
export type { SoaData, ZoneEntry, Zones } from './zones';
