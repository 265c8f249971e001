// The sender's DSN requests (RFC 3461: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT), kept with
// the queued message as one attribute, so the workers' reports honour them even after a restart.
// Only what was given is kept; a message without DSN parameters has no attribute. The requests
// are keyed by the address as queued (a user's canonical mailbox, an alias's targets), since that
// is what the workers settle.
import type { DsnRequest } from '@homing/delivery';
import type { SessionInfo } from '@homing/smtp/server';
import type { RecipientResolution } from '../local-delivery/recipient-resolver';

/** The queue attribute that holds the DSN requests, as JSON. */
export const DSN_ATTRIBUTE = 'dsn';

interface StoredDsn {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  rcpt?: Record<string, StoredRecipient>;
  /** RCPTs with NOTIFY=SUCCESS that an alias expanded into several targets (RFC 3461 6.2.1 d). */
  expanded?: StoredExpansion[];
}

interface StoredExpansion {
  /** The RCPT address, as given. */
  rcpt: string;
  /** Its first target: the settle of that target's first attempt sends the "expanded" report. */
  first: string;
  orcpt?: string;
  orcptType?: string;
}

/** An alias expansion the sender asked to hear of (NOTIFY=SUCCESS on an alias of several targets). */
export interface DsnExpansion {
  /** The alias address, as the sender gave it (the report's Final-Recipient). */
  address: string;
  /** The target whose first settle reports it (so exactly one settle does). */
  first: string;
  originalRecipient?: string;
  originalRecipientType?: string;
}

type Notify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

interface StoredRecipient {
  notify?: Notify[];
  orcpt?: string;
  /** The ORCPT's address type when it is not `rfc822` (absent in attributes written before it was kept). */
  orcptType?: string;
}

/** The addresses a RCPT is queued as: our user's mailbox and an alias's targets, else itself. */
function queuedAs(address: string, resolve: ((address: string) => RecipientResolution) | undefined): string[] {
  const resolution = resolve?.(address);
  if (resolution?.kind !== 'local') return [address];
  return [...resolution.mailboxes, ...resolution.forwards];
}

/**
 * The attribute for a session's current transaction, or undefined when it asked for nothing.
 * With `resolve`, each RCPT's requests go to the addresses it is queued as. One address (a user,
 * `user+tag`, an alias of one target) keeps them all. Several (an alias that expands) keep ORCPT
 * but lose SUCCESS: RFC 3461 6.2.1 d gives the sender an "expanded" report instead, not one per
 * target (Postfix does the same), so NOTIFY=SUCCESS alone becomes NEVER for the targets.
 */
export function dsnAttribute(
  session: SessionInfo,
  resolve?: (address: string) => RecipientResolution,
): string | undefined {
  const stored: StoredDsn = {};
  const mail = session.envelope.mailParams;
  if (mail?.ret !== undefined) stored.ret = mail.ret;
  if (mail?.envid !== undefined) stored.envid = mail.envid;
  for (const { mailbox, params } of session.envelope.to) {
    if (params.notify === undefined && params.orcpt === undefined) continue;
    const targets = queuedAs(mailbox.address, resolve);
    let notify = params.notify === undefined ? undefined : [...params.notify];
    if (targets.length > 1 && notify?.includes('SUCCESS')) {
      notify = notify.filter((value) => value !== 'SUCCESS');
      if (notify.length === 0) notify = ['NEVER'];
      stored.expanded ??= [];
      stored.expanded.push({
        rcpt: mailbox.address,
        first: targets[0]!,
        ...(params.orcpt === undefined ? {} : { orcpt: params.orcpt.address }),
        ...(params.orcpt === undefined || params.orcpt.type === 'rfc822' ? {} : { orcptType: params.orcpt.type }),
      });
    }
    const entry: StoredRecipient = {
      ...(notify === undefined ? {} : { notify }),
      // RFC 3461 4.2: ORCPT is `addr-type;address`; the type goes on with it (to the next hop, into reports).
      ...(params.orcpt === undefined ? {} : { orcpt: params.orcpt.address }),
      ...(params.orcpt === undefined || params.orcpt.type === 'rfc822' ? {} : { orcptType: params.orcpt.type }),
    };
    stored.rcpt ??= {};
    for (const target of targets) stored.rcpt[target] ??= entry;
  }
  return Object.keys(stored).length === 0 ? undefined : JSON.stringify(stored);
}

/** The DSN requests of a queued message, for `@homing/delivery`'s `reportOptions`. */
export function dsnRequestOf(attributes: Record<string, string>): DsnRequest | undefined {
  const text = attributes[DSN_ATTRIBUTE];
  if (text === undefined) return undefined;
  let stored: StoredDsn;
  try {
    stored = JSON.parse(text) as StoredDsn;
  } catch {
    return undefined; // written by us; unreadable means damaged: report as if nothing was asked
  }
  const request: DsnRequest = {};
  if (stored.envid !== undefined) request.envelopeId = stored.envid;
  if (stored.ret !== undefined) request.ret = stored.ret;
  if (stored.rcpt !== undefined) {
    request.recipients = Object.fromEntries(
      Object.entries(stored.rcpt).map(([address, value]) => [
        address,
        {
          ...(value.notify === undefined ? {} : { notify: value.notify }),
          ...(value.orcpt === undefined ? {} : { originalRecipient: value.orcpt }),
          ...(value.orcptType === undefined ? {} : { originalRecipientType: value.orcptType }),
        },
      ]),
    );
  }
  return request;
}

/** The alias expansions of a queued message the sender asked to hear of (see `dsnAttribute`). */
export function expansionsOf(attributes: Record<string, string>): DsnExpansion[] {
  const text = attributes[DSN_ATTRIBUTE];
  if (text === undefined) return [];
  let stored: StoredDsn;
  try {
    stored = JSON.parse(text) as StoredDsn;
  } catch {
    return [];
  }
  return (stored.expanded ?? []).map((entry) => ({
    address: entry.rcpt,
    first: entry.first,
    ...(entry.orcpt === undefined ? {} : { originalRecipient: entry.orcpt }),
    ...(entry.orcptType === undefined ? {} : { originalRecipientType: entry.orcptType }),
  }));
}
