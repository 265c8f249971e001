// Who a RCPT TO address delivers to: the user mailboxes of our domains it reaches through users,
// aliases, subaddressing, catch-alls and postmaster, or that it is unknown (550 5.1.1 at RCPT), or
// not one of our domains (relaying: refused on the MX). Pure: the tables (normalised sets and maps)
// are built once, on start and on each SIGHUP, so `resolve` is a few map lookups per RCPT, plus the
// walk of an alias's targets when one matches.
import type { Config } from '../../config/config-types';
import { type AddressParts, joinAddress, normaliseDomainName, splitAddress } from './mailbox-address';

/** What a recipient address resolves to. */
export type RecipientResolution =
  /**
   * Ours and deliverable: `mailboxes` are the user mailboxes (canonical lower-case `local@domain`,
   * de-duplicated, in expansion order). `forwards` are alias targets outside our domains, in the
   * same form as written; local delivery ignores them (forwarding is the outbound side's job).
   */
  | { kind: 'local'; mailboxes: string[]; forwards: string[] }
  /** One of our domains, but no user, alias or catch-all takes it: 550 5.1.1 at RCPT. */
  | { kind: 'unknown' }
  /** Not one of our domains (or an address literal): relaying, refused on the MX. */
  | { kind: 'not-ours' };

/** The tables a resolver is built from; the shapes of `Config`, plus the users file's addresses. */
export interface RecipientResolverOptions {
  /** Our domains (any case, trailing dot allowed). */
  domains: readonly string[];
  /** The user addresses of the users file, in file order (the first is the default postmaster). */
  users: readonly string[];
  /** Alias address or `@domain` catch-all -> targets (`Config.aliases`). */
  aliases: Readonly<Record<string, readonly string[]>>;
  /** Who gets `postmaster@` every domain (`Config.postmaster`); empty means the first user. */
  postmaster: readonly string[];
}

/** Resolves RCPT TO addresses against the users and aliases it was built from. */
export interface RecipientResolver {
  resolve(address: string): RecipientResolution;
}

interface Expansion {
  mailboxes: string[];
  forwards: string[];
}

// RFC 5233 subaddressing with Postfix's default recipient_delimiter.
const SUBADDRESS_DELIMITER = '+';

/** Builds a resolver; see `RecipientResolution` for the rules, in order. */
export function createRecipientResolver(options: RecipientResolverOptions): RecipientResolver {
  const domains = new Set(options.domains.map(normaliseDomainName));
  const users = new Set<string>();
  const userOrder: string[] = [];
  for (const user of options.users) {
    const parts = splitAddress(user);
    if (parts === null || parts.domain === '') continue;
    const mailbox = joinAddress(parts);
    if (!users.has(mailbox)) userOrder.push(mailbox);
    users.add(mailbox);
  }
  // Keys normalised like addresses: `local@domain`, or `@domain` for a catch-all.
  const aliasTargets = new Map<string, readonly string[]>();
  for (const [key, targets] of Object.entries(options.aliases)) {
    if (key.startsWith('@')) aliasTargets.set(`@${normaliseDomainName(key.slice(1))}`, targets);
    else {
      const parts = splitAddress(key);
      if (parts !== null && parts.domain !== '') aliasTargets.set(joinAddress(parts), targets);
    }
  }
  const postmasterTargets = options.postmaster.length > 0 ? options.postmaster : userOrder.slice(0, 1);
  const primaryDomain = normaliseDomainName(options.domains[0] ?? '');

  // Expands one address of ours: alias, else user, else subaddress base, else catch-all. `chain`
  // holds the aliases being expanded above it: an alias met again is a loop and adds nothing,
  // except that an alias naming itself (`bob: [bob, alice]`, as Postfix allows) reaches bob's mailbox.
  const expand = (parts: AddressParts, chain: Set<string>, into: Expansion): boolean => {
    const address = joinAddress(parts);
    if (expandExact(address, parts.local, chain, into)) return true;
    const plus = parts.local.indexOf(SUBADDRESS_DELIMITER);
    if (plus > 0) {
      const base = parts.local.slice(0, plus);
      if (expandExact(`${base}@${parts.domain}`, base, chain, into)) return true;
    }
    const catchAll = `@${parts.domain}`;
    const targets = aliasTargets.get(catchAll);
    if (targets === undefined || chain.has(catchAll)) return false;
    expandTargets(catchAll, targets, chain, into);
    return true;
  };

  const expandExact = (address: string, local: string, chain: Set<string>, into: Expansion): boolean => {
    const targets = aliasTargets.get(address);
    if (targets !== undefined && !chain.has(address)) {
      expandTargets(address, targets, chain, into);
      return true;
    }
    if (users.has(address)) {
      if (!into.mailboxes.includes(address)) into.mailboxes.push(address);
      return true;
    }
    // RFC 5321 4.5.1: postmaster of every domain of ours is always accepted; a user or alias of
    // that name (above) takes precedence, so a site may route it itself.
    if (local === 'postmaster') {
      if (!chain.has('postmaster')) expandTargets('postmaster', postmasterTargets, chain, into);
      return true;
    }
    // An alias met again (a loop) matched, but adds nothing: it must not fall through to a catch-all.
    return targets !== undefined;
  };

  const expandTargets = (name: string, targets: readonly string[], chain: Set<string>, into: Expansion) => {
    chain.add(name);
    for (const target of targets) {
      const parts = splitAddress(target);
      if (parts === null) continue;
      if (parts.domain === '' || domains.has(parts.domain)) {
        // A target of ours that reaches nobody (no such user) is dropped; the config check names it.
        expand(parts.domain === '' ? { local: parts.local, domain: primaryDomain } : parts, chain, into);
      } else if (!into.forwards.includes(target)) into.forwards.push(target);
    }
    chain.delete(name);
  };

  return {
    resolve(address: string): RecipientResolution {
      const parts = splitAddress(address);
      if (parts === null) return { kind: 'not-ours' };
      // The bare `postmaster` (no domain) is ours by definition (RFC 5321 4.5.1).
      const mine = parts.domain === '' ? { local: parts.local, domain: primaryDomain } : parts;
      if (!domains.has(mine.domain)) return { kind: 'not-ours' };
      const into: Expansion = { mailboxes: [], forwards: [] };
      if (!expand(mine, new Set(), into)) return { kind: 'unknown' };
      if (into.mailboxes.length === 0 && into.forwards.length === 0) return { kind: 'unknown' };
      return { kind: 'local', mailboxes: into.mailboxes, forwards: into.forwards };
    },
  };
}

/** The resolver of a config and the addresses of its users file. */
export function recipientResolverFor(
  config: Pick<Config, 'domains' | 'aliases' | 'postmaster'>,
  users: readonly string[],
): RecipientResolver {
  return createRecipientResolver({
    domains: config.domains,
    users,
    aliases: config.aliases,
    postmaster: config.postmaster,
  });
}

/**
 * A resolver whose tables can be replaced while the server runs (SIGHUP re-reads the config and
 * the users file): `resolve` always uses the latest tables, and a session in progress simply
 * sees the new ones from its next RCPT on.
 */
export interface ReloadableRecipientResolver extends RecipientResolver {
  /** Rebuilds the tables from a new config and users list. */
  reload(config: Pick<Config, 'domains' | 'aliases' | 'postmaster'>, users: readonly string[]): void;
}

/** Creates a `ReloadableRecipientResolver` with the first tables. */
export function createReloadableRecipientResolver(
  config: Pick<Config, 'domains' | 'aliases' | 'postmaster'>,
  users: readonly string[],
): ReloadableRecipientResolver {
  let current = recipientResolverFor(config, users);
  return {
    resolve: (address) => current.resolve(address),
    reload(nextConfig, nextUsers) {
      // Built completely before it replaces the old one: a failure leaves the old tables in place.
      current = recipientResolverFor(nextConfig, nextUsers);
    },
  };
}
