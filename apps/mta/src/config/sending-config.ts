// The sending keys of homing.yml (issue 14) completed into the effective Config: the DKIM key of
// each of our domains (the defaults under `dkim:`, then `dkim.domains.<domain>`), the smarthost
// and the source addresses. Kept apart from load-config.ts so that file gains one call.
import type { DkimDomainConfig, DkimKeyConfig, OutboundConfig, RelayConfig } from './config-types';

/** The default DKIM selector (RFC 6376 3.1), also the name of the generated key files. */
export const defaultDkimSelector = 'homing';

interface ParsedKey {
  selector?: string | undefined;
  key?: string | undefined;
}
interface ParsedEntry extends ParsedKey {
  ed25519?: ParsedKey | undefined;
}

/** What the schema gives for the three keys. */
export interface ParsedSending {
  dkim: ParsedEntry & { domains: Record<string, ParsedEntry> };
  relay?: { host: string; port: number; username?: string | undefined; password_file?: string | undefined } | undefined;
  outbound: { ipv4?: string | undefined; ipv6?: string | false | undefined };
}

type Fail = (path: readonly PropertyKey[], message: string) => void;

/**
 * The sending part of the Config. `absolute` resolves a path against the config's directory;
 * `fail` reports a problem at a key path (a `dkim.domains` entry for a domain that is not ours).
 */
export function completeSending(
  parsed: ParsedSending,
  domains: readonly string[],
  absolute: (path: string) => string,
  fail: Fail,
): { dkim: Record<string, DkimDomainConfig>; relay?: RelayConfig; outbound: OutboundConfig } {
  const { domains: perDomain, ...defaults } = parsed.dkim;
  for (const written of Object.keys(perDomain)) {
    if (!domains.includes(written.toLowerCase().replace(/\.$/, ''))) {
      fail(['dkim', 'domains', written], `${written} is not one of our domains (${domains.join(', ')})`);
    }
  }
  const key = (entry: ParsedKey, fallbackSelector: string): DkimKeyConfig => ({
    selector: entry.selector ?? fallbackSelector,
    ...(entry.key === undefined ? {} : { key: absolute(entry.key) }),
  });
  const dkim: Record<string, DkimDomainConfig> = {};
  for (const domain of domains) {
    const own = Object.entries(perDomain).find(([name]) => name.toLowerCase().replace(/\.$/, '') === domain)?.[1];
    // A default `key:` serves every domain without its own (the same record is published under each).
    const entry: ParsedEntry = { ...defaults, ...own };
    const main = key(entry, defaultDkimSelector);
    const ed = own?.ed25519 ?? (own === undefined || own.ed25519 === undefined ? defaults.ed25519 : undefined);
    dkim[domain] = ed === undefined ? main : { ...main, ed25519: key(ed, `${main.selector}-ed25519`) };
  }
  const relay = parsed.relay;
  const outbound: OutboundConfig = {};
  if (parsed.outbound.ipv4 !== undefined) outbound.ipv4 = parsed.outbound.ipv4;
  if (parsed.outbound.ipv6 !== undefined) outbound.ipv6 = parsed.outbound.ipv6;
  if (relay !== undefined && relay.username !== undefined && relay.password_file === undefined) {
    fail(
      ['relay', 'username'],
      'a username needs its password: add password_file: FILE (the password on its first line)',
    );
  }
  return {
    dkim,
    ...(relay === undefined
      ? {}
      : {
          relay: {
            host: relay.host,
            port: relay.port,
            ...(relay.username === undefined ? {} : { username: relay.username }),
            ...(relay.password_file === undefined ? {} : { passwordFile: absolute(relay.password_file) }),
          },
        }),
    outbound,
  };
}

/** The sending keys written back as YAML (for `homing config show`). */
export function sendingToKeys(config: {
  dkim: Record<string, DkimDomainConfig>;
  relay?: RelayConfig;
  outbound: OutboundConfig;
}): Record<string, unknown> {
  const domains = Object.fromEntries(
    Object.entries(config.dkim).map(([domain, entry]) => [
      domain,
      {
        selector: entry.selector,
        ...(entry.key === undefined ? {} : { key: entry.key }),
        ...(entry.ed25519 === undefined ? {} : { ed25519: { ...entry.ed25519 } }),
      },
    ]),
  );
  const relay = config.relay;
  return {
    dkim: { domains },
    ...(relay === undefined
      ? {}
      : {
          relay: {
            host: relay.host,
            port: relay.port,
            ...(relay.username === undefined ? {} : { username: relay.username }),
            ...(relay.passwordFile === undefined ? {} : { password_file: relay.passwordFile }),
          },
        }),
    outbound: { ...config.outbound },
  };
}
