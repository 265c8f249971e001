import type { FollowUpMessage } from '../queue';
import { QueueError } from '../queue-error';
import type { BatchStore, CommittedMessage } from './batch-store';
import { checkEnvelope, storageError } from './receive-body';

/** A follow-up checked and ready to store: its envelope fields and its bytes. */
export interface PreparedFollowUp {
  id: string;
  sender: string;
  recipients: string[];
  attributes: Record<string, string>;
  data: Buffer;
}

/** Checks every follow-up before anything is written, so a bad one fails the settle as a whole. */
export function prepareFollowUps(messages: readonly FollowUpMessage[], newId: () => string): PreparedFollowUp[] {
  return messages.map((message) => {
    if (typeof message?.body !== 'string' && !Buffer.isBuffer(message?.body)) {
      throw new QueueError('INVALID_ARGUMENT', 'a follow-up message needs a body (a Buffer or a string)');
    }
    const recipients = checkEnvelope(message.envelope);
    const prepend = message.options?.prepend;
    const data = Buffer.concat([
      prepend === undefined ? Buffer.alloc(0) : Buffer.from(prepend),
      Buffer.from(message.body),
    ]);
    return {
      id: newId(),
      sender: message.envelope.sender,
      recipients,
      attributes: { ...(message.envelope.attributes ?? {}) },
      data,
    };
  });
}

/**
 * Writes follow-ups into batch files marked conditional (`c: 1`): recovery keeps such a message
 * only when a durable journal record names it, so until the settle's record is fsynced they
 * are as good as never written.
 */
export async function storeFollowUps(
  store: BatchStore,
  prepared: readonly PreparedFollowUp[],
  context: { now: number; nextSeq: () => number; crc: (data: Buffer) => number },
): Promise<CommittedMessage[]> {
  // Every store is awaited before a failure is reported, so nothing is still being written then.
  // A follow-up stored while another failed is simply never confirmed: recovery drops it, and its
  // batch file (which may hold other, acknowledged messages) is left to the usual deletion.
  const results = await Promise.allSettled(
    prepared.map((message) =>
      store.store({
        envelope: {
          id: message.id,
          sender: message.sender,
          recipients: message.recipients,
          attributes: message.attributes,
          createdAt: context.now,
          seq: context.nextSeq(),
          c: 1,
        },
        body: { kind: 'inline', data: message.data, crc: context.crc(message.data) },
      }),
    ),
  );
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw storageError(failure.reason, 'committing the follow-up messages of a settle');
  return results.map((result) => (result as PromiseFulfilledResult<CommittedMessage>).value);
}
