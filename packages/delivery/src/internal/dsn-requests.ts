// The sender's DSN requests (RFC 3461) as the worker applies them: which outcomes are reported,
// and what a report's recipient says about its ORCPT.
import type { DsnRequest } from '../delivery-worker';
import type { RecipientOutcome } from '../recipient-outcome';
import type { SuccessRecipient } from '../success-report';

/**
 * RFC 3461 4.1: without NOTIFY, failures (and, at the MTA's choice, delays) are reported, and
 * never a success; with it, what it names.
 */
export function wants(
  request: DsnRequest | undefined,
  address: string,
  kind: 'FAILURE' | 'DELAY' | 'SUCCESS',
): boolean {
  const notify = request?.recipients?.[address]?.notify;
  if (notify === undefined || notify.length === 0) return kind !== 'SUCCESS';
  return notify.includes(kind);
}

export function withRequest<T extends { address: string }>(recipient: T, request: DsnRequest | undefined): T {
  const asked = request?.recipients?.[recipient.address];
  if (asked?.originalRecipient === undefined) return recipient;
  return {
    ...recipient,
    originalRecipient: asked.originalRecipient,
    ...(asked.originalRecipientType === undefined ? {} : { originalRecipientType: asked.originalRecipientType }),
  };
}

/**
 * The recipients a success report tells about: delivered to a next hop that did not offer DSN
 * (RFC 3461 6.2.1 b: "relayed"; one that did was given NOTIFY and ORCPT and reports itself).
 */
export function relayedRecipients(
  outcomes: readonly Pick<RecipientOutcome, 'recipient' | 'status'>[],
  byAddress: ReadonlyMap<string, RecipientOutcome>,
  request: DsnRequest | undefined,
): SuccessRecipient[] {
  const relayed: SuccessRecipient[] = [];
  for (const { recipient, status } of outcomes) {
    const outcome = byAddress.get(recipient);
    if (status !== 'delivered' || outcome === undefined || outcome.session?.dsn === true) continue;
    if (!wants(request, recipient, 'SUCCESS')) continue;
    const enhanced = outcome.enhanced.startsWith('2.') ? outcome.enhanced : '2.0.0';
    relayed.push(
      withRequest(
        {
          address: recipient,
          action: 'relayed',
          status: enhanced,
          ...(outcome.mx === undefined ? {} : { remoteMta: outcome.mx }),
          ...(outcome.remoteReply === undefined ? {} : { reply: outcome.remoteReply }),
        },
        request,
      ),
    );
  }
  return relayed;
}
