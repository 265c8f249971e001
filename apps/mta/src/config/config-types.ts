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
  /** Time a TLS handshake (465, or after STARTTLS) may take in all, ms (default 30 s); then the socket is closed. */
  tlsHandshakeTimeoutMs: number;
  /** Most messages one authenticated user may submit per window (YAML `send_rate: 100/h`); none: no limit. */
  sendRate?: SendRate;
}

/** A sending rate: at most `count` messages per `windowMs`, as written (`text`). */
export interface SendRate {
  count: number;
  windowMs: number;
  text: string;
}

/** Certificates by ACME (RFC 8555), YAML `tls: { acme: { email, directory } }`. */
export interface AcmeConfig {
  /** The account's contact address, for the CA's notices. */
  email: string;
  /** The CA's directory URL (default Let's Encrypt's). */
  directory: string;
  /** Where the http-01 challenge is answered (default `[::]:80`; RFC 8555 8.3 asks port 80). */
  http: ListenAddress[];
  /** Where the MTA-STS policy is served over HTTPS (default `[::]:443`); empty turns it off. */
  https: ListenAddress[];
  /** Renew when less than this is left of the certificate, ms (default 30 days). */
  renewBeforeMs: number;
  /** The MTA-STS policy served over HTTPS (RFC 8461 3.2). */
  mtaSts: MtaStsConfig;
}

/** The MTA-STS policy's fields (RFC 8461 3.2); `mx` is always our host name. */
export interface MtaStsConfig {
  mode: 'enforce' | 'testing' | 'none';
  /** Seconds a sender may cache the policy (default one week). */
  maxAgeSeconds: number;
}

/** One DKIM key: its selector and PEM file (generated under `{state}/dkim/` when absent). */
export interface DkimKeyConfig {
  /** `s=`; the record is published at `{selector}._domainkey.{domain}` (default `homing`). */
  selector: string;
  /** Path of the PEM private key; undefined: `{state}/dkim/{domain}.{selector}.key`, generated on first start. */
  key?: string;
}

/** How a domain's mail is signed: rsa-2048 (or the given key), and an extra Ed25519 signature by option. */
export interface DkimDomainConfig extends DkimKeyConfig {
  /** An extra ed25519-sha256 signature (RFC 8463), with its own selector (default `{selector}-ed25519`). */
  ed25519?: DkimKeyConfig;
}

/** A smarthost that takes every outbound message (YAML `relay: { host, port, username, password_file }`). */
export interface RelayConfig {
  host: string;
  /** Default 587 (STARTTLS); 465 means implicit TLS. */
  port: number;
  /** AUTH user name; AUTH (under TLS only) when given. */
  username?: string;
  /** File holding the AUTH password (its first line). */
  passwordFile?: string;
}

/** Source addresses of outbound connections, per family; `ipv6: false` sends over IPv4 only. */
export interface OutboundConfig {
  ipv4?: string;
  ipv6?: string | false;
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
  /**
   * The certificate files; with ACME they are the ones the server keeps under `{state}/acme/`
   * (a self-signed stand-in until the first certificate is issued).
   */
  tls: { cert: string; key: string; acme?: AcmeConfig };
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
  /** The reflector's address (`reflector: check@DOMAIN`): every message to it is answered with a report. */
  reflector?: string;
  /** Port of remote MX hosts (default 25; tests use a loopback receiver). */
  remotePort: number;
  /** DKIM signing of our domains' outgoing mail, per domain (every one of `domains` has an entry). */
  dkim: Record<string, DkimDomainConfig>;
  /** Send everything through this smarthost instead of the recipients' MX hosts. */
  relay?: RelayConfig;
  outbound: OutboundConfig;
  /**
   * True for the development default only: no DNS is reachable, so no DNS-based check runs at all
   * (Authentication-Results says `none`). Not a YAML key.
   */
  offline?: boolean;
}
