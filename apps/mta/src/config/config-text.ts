// The effective config written back as homing.yml keys (snake_case), for `homing config show`:
// every default filled in, in the units people write. Loading this text again gives the same
// Config, so it can serve as a starting point for a full config.
import { stringify } from 'yaml';
import type { Config } from './config-types';
import { formatDuration, formatListenAddress, formatSize } from './config-values';
import { sendingToKeys } from './sending-config';

function acmeKeys(acme: NonNullable<Config['tls']['acme']>): Record<string, unknown> {
  return {
    email: acme.email,
    directory: acme.directory,
    http: acme.http.map(formatListenAddress),
    https: acme.https.length === 0 ? 'off' : acme.https.map(formatListenAddress),
    renew_before: `${acme.renewBeforeMs / 86_400_000}d`,
    mta_sts: { mode: acme.mtaSts.mode, max_age: `${acme.mtaSts.maxAgeSeconds / 86_400}d` },
  };
}

/** The effective config as the plain object of its YAML keys. */
export function configToKeys(config: Config): Record<string, unknown> {
  const { filters, limits, listen } = config;
  return {
    domains: config.domains,
    hostname: config.hostname,
    tls:
      config.tls.acme === undefined
        ? { cert: config.tls.cert, key: config.tls.key }
        : { acme: acmeKeys(config.tls.acme) },
    users: config.users,
    state: config.state,
    listen: {
      mx: listen.mx.map(formatListenAddress),
      submission: listen.submission.map(formatListenAddress),
      submissions: listen.submissions.map(formatListenAddress),
      metrics: listen.metrics.map(formatListenAddress),
      control: listen.control,
    },
    dns: config.dns,
    aliases: config.aliases,
    postmaster: config.postmaster,
    quota: config.quota === undefined ? 'none' : formatSize(config.quota),
    ...(config.reflector === undefined ? {} : { reflector: config.reflector }),
    remote_port: config.remotePort,
    ...sendingToKeys(config),
    limits: {
      message_size: formatSize(limits.messageSize),
      recipients: limits.recipients,
      line_length: formatSize(limits.lineLength),
      connections: limits.connections,
      connections_per_ip: limits.connectionsPerIp,
      idle_timeout: formatDuration(limits.idleTimeoutMs),
      tls_handshake_timeout: formatDuration(limits.tlsHandshakeTimeoutMs),
      ...(limits.sendRate === undefined ? {} : { send_rate: limits.sendRate.text }),
    },
    filters: {
      timeout: formatDuration(filters.timeoutMs),
      rdns: { enabled: filters.rdns.enabled, action: filters.rdns.action, on_dns_error: filters.rdns.onDnsError },
      fcrdns: {
        enabled: filters.fcrdns.enabled,
        action: filters.fcrdns.action,
        on_dns_error: filters.fcrdns.onDnsError,
      },
      dnsbl: {
        enabled: filters.dnsbl.enabled,
        zones: filters.dnsbl.zones,
        action: filters.dnsbl.action,
        on_dns_error: filters.dnsbl.onDnsError,
        message: filters.dnsbl.message,
      },
      spf: {
        enabled: filters.spf.enabled,
        fail: filters.spf.fail,
        softfail: filters.spf.softfail,
        on_dns_error: filters.spf.onDnsError,
      },
      dmarc: {
        enabled: filters.dmarc.enabled,
        reject: filters.dmarc.reject,
        quarantine: filters.dmarc.quarantine,
        on_dns_error: filters.dmarc.onDnsError,
      },
    },
  };
}

/** The effective config as YAML text, with a first comment line naming its source. */
export function formatConfigYaml(config: Config): string {
  const body = stringify(configToKeys(config), { lineWidth: 0, flowCollectionPadding: false });
  return `# effective config of ${config.source}, every default filled in\n${body}`;
}
