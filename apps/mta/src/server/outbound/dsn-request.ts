// The sender's DSN requests (RFC 3461: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT), kept with
// the queued message as one attribute, so the outbound worker's reports honour them even after a
// restart. Only what was given is kept; a message without DSN parameters has no attribute.
import type { DsnRequest } from '@homing/delivery';
import type { SessionInfo } from '@homing/smtp/server';

/** The queue attribute that holds the DSN requests, as JSON. */
export const DSN_ATTRIBUTE = 'dsn';

interface StoredDsn {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  rcpt?: Record<string, { notify?: ('NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY')[]; orcpt?: string }>;
}

/** The attribute for a session's current transaction, or undefined when it asked for nothing. */
export function dsnAttribute(session: SessionInfo): string | undefined {
  const stored: StoredDsn = {};
  const mail = session.envelope.mailParams;
  if (mail?.ret !== undefined) stored.ret = mail.ret;
  if (mail?.envid !== undefined) stored.envid = mail.envid;
  for (const { mailbox, params } of session.envelope.to) {
    if (params.notify === undefined && params.orcpt === undefined) continue;
    stored.rcpt ??= {};
    stored.rcpt[mailbox.address] = {
      ...(params.notify === undefined ? {} : { notify: [...params.notify] }),
      // RFC 3461 4.2: ORCPT is `addr-type;address`; the report writes it back with its type.
      ...(params.orcpt === undefined ? {} : { orcpt: params.orcpt.address }),
    };
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
        },
      ]),
    );
  }
  return request;
}
