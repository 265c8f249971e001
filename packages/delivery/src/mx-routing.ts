import { isIP } from 'node:net';
import { isDnsError, type Resolver } from '@homing/dns';
import { normaliseDomain } from '@homing/smtp';
import { DeliveryError } from './delivery-error';
import { createHostsLookup, type HostsLookup } from './hosts-file';

/** The DNS lookups delivery makes: these four methods of `@homing/dns`'s `Resolver`. */
export type DeliveryResolver = Pick<Resolver, 'resolveMx' | 'resolveA' | 'resolveAaaa' | 'resolveTlsa'>;

/** One mail exchanger of a route, in the order to try. */
export interface MailExchanger {
  /** Host name in A-label form (or the address, for an address literal). */
  host: string;
  /** MX preference (0 for an implicit MX or an address literal). */
  preference: number;
}

/** Where mail for a domain goes (RFC 5321 5.1). */
export interface MailRoute {
  /** The domain in A-label form, lower case, without a trailing dot. */
  domain: string;
  /** Mail exchangers in the order to try: by preference, random among equals. */
  exchangers: MailExchanger[];
  /** True when the domain has no MX and its own A/AAAA records stand in (implicit MX). */
  implicit: boolean;
  /** True when the MX answer was DNSSEC-validated (AD bit): a precondition for DANE (RFC 7672 2.2.1). */
  authenticated: boolean;
}

/** Options of `resolveMailRoute`. */
export interface RouteOptions {
  /** Random source in [0, 1) to order equal preferences; injectable for tests. Default `Math.random`. */
  random?: () => number;
  signal?: AbortSignal;
}

/**
 * A domain in the form DNS and SMTP want: lower case, IDN labels as A-labels, by `@homing/smtp`'s
 * `normaliseDomain` (RFC 5321 4.1.2, RFC 5891), so delivery and the SMTP layer agree on every
 * name. One trailing dot (the DNS root) is dropped first. Throws `INVALID_ADDRESS` otherwise.
 */
export function toALabelDomain(domain: string): string {
  const ascii = normaliseDomain(domain.endsWith('.') ? domain.slice(0, -1) : domain);
  if (ascii === null) throw new DeliveryError('INVALID_ADDRESS', `"${domain}" is not a valid domain name`);
  return ascii;
}

/** The domain of an address (after the last `@`), or an address literal's IP (RFC 5321 4.1.3). */
export function domainOfAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) {
    throw new DeliveryError('INVALID_ADDRESS', `"${address}" is not an address of the form local@domain`);
  }
  return address.slice(at + 1);
}

/** The IP of an address literal `[192.0.2.1]` or `[IPv6:2001:db8::1]`, or undefined. */
function addressLiteral(domain: string): string | undefined {
  const match = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i.exec(domain.trim());
  if (match === null) return undefined;
  return isIP(match[1]!) === 0 ? undefined : match[1]!.toLowerCase();
}

/** `@homing/dns`'s failure code of a lookup error (NXDOMAIN, NODATA, SERVFAIL...), or undefined for anything else. */
function dnsCode(error: unknown): string | undefined {
  return isDnsError(error) ? error.code : undefined;
}

/** RFC 2308: the name does not exist, or has no record of the type: an answer, not a failure. */
const notFound = (error: unknown): boolean => isDnsError(error, 'NXDOMAIN') || isDnsError(error, 'NODATA');

/** Sorted by preference; Fisher-Yates within each group of equal preference (RFC 5321 5.1: randomize equals). */
function orderExchangers(records: { exchange: string; priority: number }[], random: () => number): MailExchanger[] {
  const byPreference = new Map<number, MailExchanger[]>();
  for (const record of records) {
    const host = record.exchange.toLowerCase().replace(/\.$/, '');
    const group = byPreference.get(record.priority) ?? [];
    if (!group.some((existing) => existing.host === host)) group.push({ host, preference: record.priority });
    byPreference.set(record.priority, group);
  }
  const ordered: MailExchanger[] = [];
  for (const preference of [...byPreference.keys()].sort((a, b) => a - b)) {
    const group = byPreference.get(preference)!;
    for (let index = group.length - 1; index > 0; index -= 1) {
      const other = Math.min(index, Math.floor(random() * (index + 1)));
      [group[index], group[other]] = [group[other]!, group[index]!];
    }
    ordered.push(...group);
  }
  return ordered;
}

/**
 * Finds where mail for `domain` goes (RFC 5321 5.1): MX records by preference, random among
 * equals; the domain itself when it has no MX but has A/AAAA (implicit MX); an address literal
 * as is. Rejects with a `DeliveryError`: `NULL_MX` (RFC 7505: the domain accepts no mail),
 * `NO_SUCH_DOMAIN` (NXDOMAIN, or neither MX nor address), `DNS_TEMPORARY` (try later).
 */
export async function resolveMailRoute(
  domain: string,
  resolver: DeliveryResolver,
  options: RouteOptions = {},
): Promise<MailRoute> {
  const literal = addressLiteral(domain);
  if (literal !== undefined) {
    return { domain: literal, exchangers: [{ host: literal, preference: 0 }], implicit: true, authenticated: false };
  }
  const name = toALabelDomain(domain);
  const lookup = options.signal === undefined ? {} : { signal: options.signal };
  let answer: Awaited<ReturnType<DeliveryResolver['resolveMx']>> | undefined;
  try {
    answer = await resolver.resolveMx(name, lookup);
  } catch (error) {
    if (isDnsError(error, 'NXDOMAIN')) {
      throw new DeliveryError('NO_SUCH_DOMAIN', `${name} does not exist (NXDOMAIN)`, { cause: error });
    }
    if (!isDnsError(error, 'NODATA')) {
      throw new DeliveryError('DNS_TEMPORARY', `MX lookup for ${name} failed: ${dnsCode(error) ?? String(error)}`, {
        cause: error,
      });
    }
  }
  if (answer !== undefined) {
    // RFC 7505 3: a single MX with preference 0 and the root as exchange says "no mail here".
    if (answer.records.some((record) => record.exchange === '' || record.exchange === '.')) {
      throw new DeliveryError('NULL_MX', `${name} accepts no mail (null MX, RFC 7505)`);
    }
    const random = options.random ?? Math.random;
    return {
      domain: name,
      exchangers: orderExchangers(answer.records, random),
      implicit: false,
      authenticated: answer.authenticated,
    };
  }
  // RFC 5321 5.1: no MX at all, so the domain's own address records are an implicit MX of preference 0.
  const lookups = await Promise.allSettled([resolver.resolveA(name, lookup), resolver.resolveAaaa(name, lookup)]);
  if (lookups.some((result) => result.status === 'fulfilled')) {
    const authenticated = lookups.every((result) => result.status === 'fulfilled' && result.value.authenticated);
    return { domain: name, exchangers: [{ host: name, preference: 0 }], implicit: true, authenticated };
  }
  const codes = lookups.map((result) => (result.status === 'rejected' ? dnsCode(result.reason) : undefined));
  if (lookups.every((result) => result.status === 'rejected' && notFound(result.reason))) {
    throw new DeliveryError('NO_SUCH_DOMAIN', `${name} has no MX and no A/AAAA records`);
  }
  throw new DeliveryError('DNS_TEMPORARY', `address lookup for ${name} failed: ${codes.join(', ')}`);
}

/** The order of address families to try: `ipv6` first (default), `ipv4` first, or only one of them. */
export type AddressPreference = 'ipv6' | 'ipv4' | 'ipv6-only' | 'ipv4-only';

/** Options of `resolveHostAddresses`. */
export interface HostAddressOptions {
  preference?: AddressPreference;
  /**
   * The static host table consulted before DNS (see `createHostsLookup`), or `false` for DNS only.
   * Default: `/etc/hosts` read on each call (the agent keeps one parsed copy instead).
   */
  hosts?: HostsLookup | false;
  signal?: AbortSignal;
}

const LOOPBACK = ['::1', '127.0.0.1'];

/** Addresses in the order of `preference`, without the family it excludes. */
function ordered(four: string[], six: string[], preference: AddressPreference): string[] {
  if (preference === 'ipv4-only') return four;
  if (preference === 'ipv6-only') return six;
  return preference === 'ipv4' ? [...four, ...six] : [...six, ...four];
}

/**
 * The addresses of a mail exchanger or smarthost, in the order to try. The order of sources is
 * the system's (`hosts: files dns`): an IP literal as it is; then the hosts file; then
 * `localhost` and `*.localhost` as the loopback addresses (RFC 6761 6.3); then A and AAAA through
 * `resolver`. Addresses from the first two are never DNSSEC-authenticated (no DANE).
 */
export async function resolveHostAddresses(
  host: string,
  resolver: DeliveryResolver,
  options: HostAddressOptions = {},
): Promise<{ addresses: string[]; authenticated: boolean }> {
  if (isIP(host) !== 0) return { addresses: [host], authenticated: false };
  const preference = options.preference ?? 'ipv6';
  const hosts = options.hosts === undefined ? createHostsLookup({ recheckMs: 0 }) : options.hosts;
  const name = host.toLowerCase().replace(/\.$/, '');
  // RFC 6761 6.3: `localhost` and names under it are the loopback host, never asked of DNS.
  const localhost = name === 'localhost' || name.endsWith('.localhost') ? LOOPBACK : undefined;
  const listed = (hosts === false ? undefined : await hosts(host)) ?? localhost;
  if (listed !== undefined) {
    const addresses = ordered(
      listed.filter((address) => isIP(address) === 4),
      listed.filter((address) => isIP(address) === 6),
      preference,
    );
    if (addresses.length > 0) return { addresses, authenticated: false };
  }
  const lookup = options.signal === undefined ? {} : { signal: options.signal };
  const wantV4 = preference !== 'ipv6-only';
  const wantV6 = preference !== 'ipv4-only';
  const [v4, v6] = await Promise.allSettled([
    wantV4 ? resolver.resolveA(host, lookup) : Promise.reject(new Error('not wanted')),
    wantV6 ? resolver.resolveAaaa(host, lookup) : Promise.reject(new Error('not wanted')),
  ]);
  const four = v4.status === 'fulfilled' ? v4.value.records : [];
  const six = v6.status === 'fulfilled' ? v6.value.records : [];
  const addresses = ordered(four, six, preference);
  if (addresses.length === 0) {
    const failures = [v4, v6].filter(
      (result, index): result is PromiseRejectedResult =>
        result.status === 'rejected' && (index === 0 ? wantV4 : wantV6),
    );
    const missing = failures.every((result) => notFound(result.reason));
    const codes = failures.map((result) => dnsCode(result.reason) ?? String(result.reason));
    throw new DeliveryError(
      missing ? 'NO_ROUTE' : 'DNS_TEMPORARY',
      `${host} has no usable address (${codes.join(', ') || 'none'})`,
    );
  }
  const authenticated = [v4, v6].every((result) => result.status !== 'fulfilled' || result.value.authenticated);
  return { addresses, authenticated };
}
