import { randomBytes } from 'node:crypto';
import { isFinal, type RecipientEntry } from '../internal/message-entry';
import type { Claim, RecipientState } from '../queue';
import type { KnownMessage, LeaseRow } from './message-rows';
import { arrayLiteral } from './queue-sql';

/**
 * Decides, without I/O, the claims of the messages a claim locked, on the rows as read
 * (the lock's rows and `loadLockedSql`'s, rows as arrays, messages in the walk's order): the due
 * recipients of each domain without a running lease, up to `limit`, each under a new lease until
 * `until`. Gives the claims, the parameters of `grantLeasesStatement` (lease lists and due times), and
 * for each lease granted the few fields of its message a settle needs, as they will be once the
 * grant is committed (leases, due time, version + 1). Per lease it builds the claim, the
 * recipients' entries and one small record: the claim is the hot path, and what lives from the
 * claim to the settle is what V8's garbage collector has to carry into its old generation.
 */
export function grantClaims(
  rows: { messages: readonly unknown[][]; recipients: readonly unknown[][] },
  context: {
    now: number;
    until: number;
    limit: number;
    lifetime: number;
    wanted: ((domain: string) => boolean) | undefined;
    owner: string;
  },
): { claims: Claim[]; grants: string[] | undefined; leased: [leaseId: string, message: KnownMessage][] } {
  const { now, until, limit, lifetime, owner } = context;
  // Recipients and leases by message id (recipients in position order).
  const rcptsOf = new Map<string, RecipientEntry[]>();
  for (const r of rows.recipients) {
    const entry: RecipientEntry = {
      address: r[2] as string,
      domain: r[3] as string,
      state: r[4] as RecipientState,
      attempts: r[5] as number,
      next: Number(r[6]),
    };
    if (r[7] !== null) entry.reply = r[7] as string;
    if (r[8] === true) entry.expired = true;
    const list = rcptsOf.get(r[0] as string);
    // Positions as array indexes: rows may arrive in any order.
    if (list === undefined) rcptsOf.set(r[0] as string, withAt([], r[1] as number, entry));
    else withAt(list, r[1] as number, entry);
  }
  const suffix = leaseSuffixes();
  const claims: Claim[] = [];
  const leased: [string, KnownMessage][] = [];
  const filed: string[] = [];
  // The grant's JSON parameter, built as text: `{"id":…,"due":…,"leases":[…]}` per message.
  let json = '';
  for (const m of rows.messages) {
    if (claims.length >= limit) break;
    // id, seq, sender, attributes, size, created_at, held, delay_warned, body_file, version, due_at, leases
    const id = m[0] as string;
    const createdAt = Number(m[5]);
    const held = m[6] as boolean;
    const message: KnownMessage = {
      id,
      createdAt,
      held,
      warned: m[7] as boolean,
      bodyFile: m[8] as string | null,
      version: m[9] as number,
      rcpts: (rcptsOf.get(id) ?? []).filter((r) => r !== undefined),
      // The column's JSON as node-postgres parsed it: this message's own array.
      leases: (m[11] as LeaseRow[] | null) ?? [],
    };
    // Past its lifetime a message, held or not, is handed out whole, to be bounced.
    const expired = now >= createdAt + lifetime;
    let granted = false;
    const attributes = m[3] as Record<string, string>;
    for (const [domain, rcpts] of held && !expired
      ? []
      : dueByDomain(message.rcpts, expired ? undefined : now, context.wanted)) {
      if (claims.length >= limit) break;
      const current = message.leases.findIndex((lease) => lease.domain === domain);
      if (current >= 0 && message.leases[current]!.lease_until > now) continue;
      if (current >= 0) message.leases.splice(current, 1);
      const leaseId = `${id}.${suffix()}`;
      message.leases.push({ domain, lease_id: leaseId, lease_until: until, expired, owner });
      const claim: Claim = {
        id,
        leaseId,
        leaseUntil: until,
        domain,
        sender: m[2] as string,
        // Each claim its own object: the row's for the first, copies for the others.
        attributes: granted ? { ...attributes } : attributes,
        size: Number(m[4]),
        createdAt,
        recipients: rcpts.map((r) => ({ address: r.address, attempts: r.attempts })),
      };
      if (expired) claim.expired = true;
      claims.push(claim);
      leased.push([leaseId, message]);
      granted = true;
    }
    const dueAt = knownDueAt(message, lifetime);
    // A message locked with nothing to hand out (only with a domain filter, or a due time filed
    // too early) gets its due time right, so that the next claim's walk does not meet it again.
    if (granted || dueAt !== Number(m[10])) {
      filed.push(id);
      const leases = message.leases.length === 0 ? 'null' : JSON.stringify(message.leases);
      json += `${json === '' ? '' : ','}{"id":${JSON.stringify(id)},"due":${dueAt},"leases":${leases}}`;
      message.version += 1;
    }
  }
  // Every message granted a lease is refiled: nothing to write when none is.
  const grants = filed.length === 0 ? undefined : [arrayLiteral(filed), `[${json}]`];
  return { claims, grants, leased };
}

function withAt<T>(list: T[], index: number, value: T): T[] {
  list[index] = value;
  return list;
}

/**
 * The open recipients due at `now`, by domain (only the domains `wanted` accepts); every open one
 * when `now` is undefined (an expired message). The file backend's `dueByDomain`, on recipients.
 */
function dueByDomain(
  rcpts: readonly RecipientEntry[],
  now: number | undefined,
  wanted: ((domain: string) => boolean) | undefined,
): Map<string, RecipientEntry[]> {
  const byDomain = new Map<string, RecipientEntry[]>();
  for (const r of rcpts) {
    if (isFinal(r.state) || (now !== undefined && r.next > now)) continue;
    if (wanted !== undefined && !wanted(r.domain)) continue;
    const list = byDomain.get(r.domain);
    if (list === undefined) byDomain.set(r.domain, [r]);
    else list.push(r);
  }
  return byDomain;
}

/**
 * The `due_at` to store for a known message: the file backend's `wakeTime` (the earliest next
 * attempt of an open recipient, its expiry when held, not before its domain's lease ends); far
 * future when nothing is open. The same as `dueAtOf` on the loaded message.
 */
export function knownDueAt(message: KnownMessage, lifetime: number): number {
  const expiresAt = message.createdAt + lifetime;
  let at = Number.POSITIVE_INFINITY;
  for (const r of message.rcpts) {
    if (isFinal(r.state)) continue;
    const lease = message.leases.find((l) => l.domain === r.domain);
    const due = message.held ? expiresAt : Math.min(r.next, expiresAt);
    at = Math.min(at, Math.max(due, lease === undefined ? 0 : lease.lease_until));
  }
  return at === Number.POSITIVE_INFINITY ? Number.MAX_SAFE_INTEGER : at;
}

/** Random lease id suffixes (12 hex digits), drawn 64 at a time: one call into crypto, not one per lease. */
function leaseSuffixes(): () => string {
  let pool = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 6 > pool.length) {
      pool = randomBytes(6 * 64);
      at = 0;
    }
    at += 6;
    return pool.toString('hex', at - 6, at);
  };
}
