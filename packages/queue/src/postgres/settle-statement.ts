// A settle as one statement: the outcomes, the end of the lease and the follow-up messages (the
// bounce) are written only if the message is still at the version the settle read, all in the
// statement's own transaction. Two round trips (read, write) and no lock held in between; a
// concurrent change of the message (another domain's claim or settle) makes it read again.
import type { PreparedFollowUp } from '../internal/follow-ups';
import { isFinal, type RecipientEntry, recipientInfo } from '../internal/message-entry';
import { decideSettle } from '../internal/settle-decision';
import type { EnqueueResult, RecipientOutcome, SettleResult } from '../queue';
import { QueueError } from '../queue-error';
import type { RetryScheduleOptions } from '../retry-schedule';
import type { PreparedBody } from './body-storage';
import { dueAtOf, type LoadedMessage, recipientArrays } from './message-rows';

/** The sub-statements that delete the rows of the message `ok` returns (its recipients, leases, chunks). */
export function deleteRowsOf(s: string, ok = 'ok'): string[] {
  return ['recipients', 'leases', 'body_chunks'].map(
    (table) => `gone_${table}${ok.slice(2)} AS (DELETE FROM ${s}.${table} WHERE message_id IN (SELECT id FROM ${ok}))`,
  );
}

/** A statement and its parameters. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** The recipients whose state the settle changed, as the arrays the statement takes. */
function changedRecipients(before: readonly RecipientEntry[], after: readonly RecipientEntry[]) {
  const changed = after.flatMap((r, position) => {
    const old = before[position]!;
    const same =
      old.state === r.state &&
      old.attempts === r.attempts &&
      old.next === r.next &&
      old.reply === r.reply &&
      old.expired === r.expired;
    return same ? [] : [{ position, r }];
  });
  return [
    changed.map((c) => c.position),
    changed.map((c) => c.r.state),
    changed.map((c) => c.r.attempts),
    changed.map((c) => c.r.next),
    changed.map((c) => c.r.reply ?? null),
    changed.map((c) => c.r.expired === true),
  ];
}

/**
 * The statement of a settle of `message` (loaded at `message.version`) under `leaseId`. `outcome`
 * is either `complete` (the message leaves the queue) or its new recipients, delay flag and due
 * time. Follow-ups must have their bodies in at most one chunk (`body.writeChunks` unset).
 * Returns one row `{ n }`: 1 when written, 0 when the message changed since it was read.
 */
export function settleParts(
  s: string,
  message: LoadedMessage,
  leaseId: string,
  outcome: SettleOutcome,
  followUps: readonly { message: PreparedFollowUp; body: PreparedBody }[],
  now: number,
  values: unknown[],
  tag: string,
): string[] {
  const parameter = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const ok = `ok${tag}`;
  const id = parameter(message.entry.stored.id);
  const version = parameter(message.version);
  const parts: string[] = [];
  if (outcome.complete) {
    parts.push(
      `${ok} AS (DELETE FROM ${s}.messages WHERE id = ${id} AND version = ${version} RETURNING id)`,
      ...deleteRowsOf(s, ok),
    );
  } else {
    parts.push(
      `${ok} AS (UPDATE ${s}.messages SET delay_warned = ${parameter(outcome.warned)}, due_at = ${parameter(outcome.dueAt)},
        version = version + 1 WHERE id = ${id} AND version = ${version} RETURNING id)`,
      `ended${tag} AS (DELETE FROM ${s}.leases WHERE message_id IN (SELECT id FROM ${ok}) AND lease_id = ${parameter(leaseId)})`,
    );
    const [positions, states, attempts, next, replies, expired] = changedRecipients(message.entry.rcpts, outcome.rcpts);
    if (positions!.length > 0) {
      parts.push(`changed${tag} AS (UPDATE ${s}.recipients r SET state = u.state, attempts = u.attempts,
          next_attempt_at = u.next, reply = u.reply, expired = u.expired
        FROM unnest(${parameter(positions)}::integer[], ${parameter(states)}::text[], ${parameter(attempts)}::integer[],
          ${parameter(next)}::bigint[], ${parameter(replies)}::text[], ${parameter(expired)}::boolean[])
          AS u(position, state, attempts, next, reply, expired)
        WHERE r.message_id IN (SELECT id FROM ${ok}) AND r.position = u.position)`);
    }
  }
  if (followUps.length > 0) {
    const rcpt = { ids: [] as string[], positions: [] as number[], addresses: [] as string[], domains: [] as string[] };
    for (const { message: followUp } of followUps) {
      const [addresses, domains] = recipientArrays(followUp.recipients);
      addresses.forEach((address, position) => {
        rcpt.ids.push(followUp.id);
        rcpt.positions.push(position);
        rcpt.addresses.push(address);
        rcpt.domains.push(domains[position]!);
      });
    }
    const at = parameter(now);
    parts.push(
      `follow_ups${tag} AS (INSERT INTO ${s}.messages (id, sender, attributes, size, created_at, due_at, body_file)
        SELECT f.id, f.sender, f.attributes, f.size, ${at}, ${at}, f.body_file
        FROM unnest(${parameter(followUps.map((f) => f.message.id))}::text[],
          ${parameter(followUps.map((f) => f.message.sender))}::text[],
          ${parameter(followUps.map((f) => JSON.stringify(f.message.attributes)))}::jsonb[],
          ${parameter(followUps.map((f) => f.body.size))}::bigint[],
          ${parameter(followUps.map((f) => f.body.bodyFile))}::text[]) AS f(id, sender, attributes, size, body_file)
        WHERE EXISTS (SELECT 1 FROM ${ok}))`,
      `follow_up_recipients${tag} AS (INSERT INTO ${s}.recipients
          (message_id, position, address, domain, state, attempts, next_attempt_at)
        SELECT x.id, x.position, x.address, x.domain, 'pending', 0, ${at}
        FROM unnest(${parameter(rcpt.ids)}::text[], ${parameter(rcpt.positions)}::integer[],
          ${parameter(rcpt.addresses)}::text[], ${parameter(rcpt.domains)}::text[]) AS x(id, position, address, domain)
        WHERE EXISTS (SELECT 1 FROM ${ok}))`,
    );
    const withChunk = followUps.filter((f) => f.body.chunk !== null);
    if (withChunk.length > 0) {
      parts.push(`follow_up_bodies${tag} AS (INSERT INTO ${s}.body_chunks (message_id, n, data)
        SELECT b.id, 0, b.data FROM unnest(${parameter(withChunk.map((f) => f.message.id))}::text[],
          ${parameter(withChunk.map((f) => f.body.chunk))}::bytea[]) AS b(id, data)
        WHERE EXISTS (SELECT 1 FROM ${ok}))`);
    }
  }
  return parts;
}

/**
 * The statement of one settle (see `settleParts`), or of several of different messages at once
 * (group commit): one row `{ i, n }` per settle, `n` 1 when written, 0 when its message changed.
 */
export function settleStatement(
  s: string,
  settles: readonly {
    message: LoadedMessage;
    leaseId: string;
    outcome: SettleOutcome;
    followUps: readonly { message: PreparedFollowUp; body: PreparedBody }[];
    now: number;
  }[],
): Statement {
  const values: unknown[] = [];
  const parts = settles.flatMap((settle, i) =>
    settleParts(s, settle.message, settle.leaseId, settle.outcome, settle.followUps, settle.now, values, `_${i}`),
  );
  const counts = settles.map((_, i) => `SELECT ${i} AS i, count(*)::integer AS n FROM ok_${i}`).join(' UNION ALL ');
  return { text: `WITH ${parts.join(',\n')}\n${counts}`, values };
}

/** The error of a settle or renewal whose lease is not this worker's any more. */
export function leaseLost(leaseId: string): QueueError {
  return new QueueError(
    'LEASE_LOST',
    `lease ${leaseId} is not held any more (expired and claimed again, settled, removed, or unknown)`,
  );
}

/** What a settle writes: the message leaves the queue, or its new state. */
export type SettleOutcome =
  | { complete: true }
  | { complete: false; rcpts: RecipientEntry[]; warned: boolean; dueAt: number };

/**
 * What a settle of `message` under `leaseId` decides, without I/O (the file backend's
 * `decideSettle`, and the due time once the lease ended); LEASE_LOST when the lease is not held.
 */
export function decideSettleOf(
  message: LoadedMessage | undefined,
  leaseId: string,
  outcomes: readonly RecipientOutcome[],
  context: {
    now: number;
    schedule: Required<RetryScheduleOptions>;
    random: () => number;
    delayWarningMs: number | false;
    lifetime: number;
    enqueued: readonly EnqueueResult[];
  },
): { now: number; result: SettleResult; outcome: SettleOutcome } {
  const lease = message?.leases.get(leaseId);
  if (message === undefined || lease === undefined) throw leaseLost(leaseId);
  const { entry } = message;
  const { now } = context;
  const decision = decideSettle(entry, lease.domain, outcomes, { ...context, expired: lease.expired });
  const open = decision.rcpts.filter((r) => !isFinal(r.state));
  const result: SettleResult = {
    id: entry.stored.id,
    complete: decision.complete,
    failed: decision.failed,
    delayWarning: decision.warn ? decision.rcpts.filter((r) => r.state === 'deferred').map(recipientInfo) : [],
    enqueued: [...context.enqueued],
  };
  if (open.length > 0) result.nextAttemptAt = Math.min(...open.map((r) => r.next));
  if (decision.complete) return { now, result, outcome: { complete: true } };
  // The due time as it will be once this lease ended and the recipients changed.
  const after: LoadedMessage = {
    ...message,
    entry: { ...entry, rcpts: decision.rcpts, leases: new Map(entry.leases) },
    leases: new Map(message.leases),
  };
  after.entry.leases.delete(lease.domain);
  after.leases.delete(leaseId);
  const outcome: SettleOutcome = {
    complete: false,
    rcpts: decision.rcpts,
    warned: entry.warned || decision.warn,
    dueAt: dueAtOf(after, context.lifetime),
  };
  return { now, result, outcome };
}
