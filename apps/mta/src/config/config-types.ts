// The effective configuration of `homing start`: what `loadConfig` returns once the YAML file is
// validated and every default is filled in. Every part of the server reads this shape and nothing
// else; the YAML keys (snake_case) are documented in apps/mta/README.md with their defaults.

/** What a filter does when it matches (OpenSMTPD's `junk` variants). */
export type FilterAction = 'accept' | 'junk' | 'reject' | 'tempfail';

/** What a DNS-dependent filter does when DNS fails or runs out of its time budget. */
export type DnsErrorAction = 'tempfail' | 'accept';

/** A filter that needs DNS and has one action. */
export interface DnsFilterConfig {
  /** False when the filter is off. */
  enabled: boolean;
  action: FilterAction;
  onDnsError: DnsErrorAction;
}

/** The DNSBL filter: zones to query (none by default, so off until zones are given). */
export interface DnsblFilterConfig extends DnsFilterConfig {
  zones: string[];
  /** The reply text for a listed client; `{ip}` and `{zone}` are replaced. */
  message: string;
}

/** The SPF filter (MAIL FROM phase), with separate actions for fail and softfail. */
export interface SpfFilterConfig {
  enabled: boolean;
  fail: FilterAction;
  softfail: FilterAction;
  onDnsError: DnsErrorAction;
}

/** The DMARC filter (end of data), honouring the sender domain's p=reject and p=quarantine. */
export interface DmarcFilterConfig {
  enabled: boolean;
  reject: FilterAction;
  quarantine: FilterAction;
  onDnsError: DnsErrorAction;
}

/** Every filter, by phase: connect (rdns, fcrdns, dnsbl), MAIL (spf), end of data (dmarc). */
export interface FiltersConfig {
  rdns: DnsFilterConfig;
  fcrdns: DnsFilterConfig;
  dnsbl: DnsblFilterConfig;
  spf: SpfFilterConfig;
  dmarc: DmarcFilterConfig;
  /** The time budget of each DNS-dependent check, ms (YAML `timeout: 5s`). */
  timeoutMs: number;
}

/** One listening address: a TCP host and port. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Where the server listens; an empty list turns a listener off. */
export interface ListenConfig {
  mx: ListenAddress[];
  submission: ListenAddress[];
  submissions: ListenAddress[];
  metrics: ListenAddress[];
  /** Path of the unix control socket (default `{state}/control.sock`). */
  control: string;
}

/** The limits of the SMTP listeners. */
export interface LimitsConfig {
  /** Largest message accepted, bytes (default 25 MiB; YAML `message_size: 25M`). */
  messageSize: number;
  /** Most recipients per message (default 100). */
  recipients: number;
  /** Longest body line the MX accepts and stores as received, octets (default 64 KiB). */
  lineLength: number;
  /** Most connections at once per listener (default 1000). */
  connections: number;
  /** Most connections at once from one client address (default 20). */
  connectionsPerIp: number;
  /** Idle time before a connection is closed, ms (default 5 minutes, RFC 5321 4.5.3.2). */
  idleTimeoutMs: number;
}

/** A PostgreSQL queue shared by several hosts. */
export interface QueueConfig {
  /** The connection string, `postgres://user@host/database`. */
  url: string;
  /** How long a claim is leased before another host may take it over (default: the queue's, 10 min). */
  leaseMs?: number;
}

/** The effective configuration. */
export interface Config {
  /** The file it came from, or `(development default)` for the embedded one. */
  source: string;
  /** Our domains, lower-case, IDN in A-label form; the first is the primary one. */
  domains: string[];
  /** Our host name: the EHLO/banner name and the authserv-id of Authentication-Results. */
  hostname: string;
  tls: { cert: string; key: string };
  /** Path of the users file (`address:hash` lines). */
  users: string;
  /** State directory: spool, Maildirs, keys (default `/var/lib/homing`). */
  state: string;
  listen: ListenConfig;
  /** Resolvers as HOST:PORT; empty means the system's (`/etc/resolv.conf`). */
  dns: string[];
  /** Alias address (lower-case) or `@domain` catch-all -> target addresses. */
  aliases: Record<string, string[]>;
  /** Who gets `postmaster@` every domain (default: the first user of the users file). */
  postmaster: string[];
  filters: FiltersConfig;
  /** Per-user quota in bytes, or undefined for none (YAML `quota: 1G`). */
  quota?: number;
  /** The PostgreSQL queue (YAML `queue: postgres://...` or `{ url, lease }`); undefined: the file spool. */
  queue?: QueueConfig;
  limits: LimitsConfig;
  /** Port of remote MX hosts (default 25; tests use a loopback receiver). */
  remotePort: number;
  /**
   * True for the development default only: no DNS is reachable, so no DNS-based check runs at all
   * (Authentication-Results says `none`). Not a YAML key.
   */
  offline?: boolean;
}
