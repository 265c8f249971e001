// Settles as one statement of fixed text, whatever their number: the outcomes, the ends of the
// leases and the follow-up messages (bounces) of a batch of settles of different messages, each
// written only if its message is still at the version the settle read, all in the statement's own
// transaction (one WAL flush). Fixed text means one plan, prepared once per connection: a statement
// of n settles as n groups of sub-statements took most of its time in planning (2 ms for 16).
// Every row is reached through an index (`= ANY (...)`), so the plan needs no statistics.
import type { PreparedFollowUp } from '../internal/follow-ups';
import { isFinal, type RecipientEntry, recipientInfo } from '../internal/message-entry';
import { decideSettle } from '../internal/settle-decision';
import type { EnqueueResult, RecipientOutcome, SettleResult } from '../queue';
import { QueueError } from '../queue-error';
import type { RetryScheduleOptions } from '../retry-schedule';
import type { PreparedBody } from './body-storage';
import { dueAtOf, type LoadedMessage, leasesJson, recipientArrays } from './message-rows';
import { arrayLiteral } from './queue-sql';

/** The sub-statements that delete the rows of the message `ok` returns (its recipients and chunks). */
export function deleteRowsOf(s: string, ok = 'ok'): string[] {
  return ['recipients', 'body_chunks'].map(
    (table) => `gone_${table}${ok.slice(2)} AS (DELETE FROM ${s}.${table} WHERE message_id IN (SELECT id FROM ${ok}))`,
  );
}

/** A statement, its parameters, and the name it is prepared under (fixed text only). */
export interface Statement {
  name?: string;
  text: string;
  values: unknown[];
}

/** The recipients whose state the settle changed, with their positions. */
function changedRecipients(before: readonly RecipientEntry[], after: readonly RecipientEntry[]) {
  return after.flatMap((r, position) => {
    const old = before[position]!;
    const same =
      old.state === r.state &&
      old.attempts === r.attempts &&
      old.next === r.next &&
      old.reply === r.reply &&
      old.expired === r.expired;
    return same ? [] : [{ position, r }];
  });
}

/** The texts of `settleStatement` by schema, built once (a few kilobytes of string building each). */
const settleTexts = new Map<string, string>();

/** The text of `settleStatement` for schema `s` (quoted); its parameters are numbered there. */
function settleText(s: string): string {
  let text = settleTexts.get(s);
  if (text === undefined) {
    text = buildSettleText(s);
    settleTexts.set(s, text);
  }
  return text;
}

function buildSettleText(s: string): string {
  const written = (cte: string) => `ANY (ARRAY(SELECT id FROM ${cte}))`;
  return `WITH done AS (
      DELETE FROM ${s}.messages m WHERE m.id = ANY ($1::text[]) AND m.id || '.' || m.version = ANY ($2::text[])
      RETURNING m.id
    ), gone_recipients AS (
      DELETE FROM ${s}.recipients WHERE message_id = ${written('done')}
    ), gone_chunks AS (
      DELETE FROM ${s}.body_chunks WHERE message_id = ${written('done')}
    ), kept AS (
      UPDATE ${s}.messages m SET delay_warned = u.warned, due_at = u.due, leases = u.leases, version = m.version + 1
      FROM unnest($3::text[], $4::integer[], $5::boolean[], $6::bigint[], $7::jsonb[]) AS u(id, version, warned, due, leases)
      WHERE m.id = ANY ($3::text[]) AND m.id = u.id AND m.version = u.version
      RETURNING m.id
    ), changed AS (
      UPDATE ${s}.recipients r SET state = c.state, attempts = c.attempts, next_attempt_at = c.next,
        reply = c.reply, expired = c.expired
      FROM unnest($8::text[], $9::integer[], $10::text[], $11::integer[], $12::bigint[], $13::text[], $14::boolean[])
        AS c(id, position, state, attempts, next, reply, expired)
      WHERE r.message_id = ${written('kept')} AND r.message_id = c.id AND r.position = c.position
    ), written AS (
      SELECT id FROM done UNION ALL SELECT id FROM kept
    ), follow_ups AS (
      INSERT INTO ${s}.messages (id, sender, attributes, size, created_at, due_at, body_file)
      SELECT f.id, f.sender, f.attributes, f.size, f.at, f.at, f.body_file
      FROM unnest($15::text[], $16::text[], $17::text[], $18::jsonb[], $19::bigint[], $20::text[], $21::bigint[])
        WITH ORDINALITY AS f(parent, id, sender, attributes, size, body_file, at, n)
      WHERE f.parent = ${written('written')}
      ORDER BY f.n
      RETURNING id
    ), follow_up_recipients AS (
      INSERT INTO ${s}.recipients (message_id, position, address, domain, state, attempts, next_attempt_at)
      SELECT x.id, x.position, x.address, x.domain, 'pending', 0, x.at
      FROM unnest($22::text[], $23::integer[], $24::text[], $25::text[], $26::bigint[])
        AS x(id, position, address, domain, at)
      WHERE x.id = ${written('follow_ups')}
    ), follow_up_bodies AS (
      INSERT INTO ${s}.body_chunks (message_id, n, data)
      SELECT b.id, 0, substring($27::bytea FROM b.start FOR b.length)
      FROM unnest($28::text[], $29::integer[], $30::integer[]) AS b(id, start, length)
      WHERE b.id = ${written('follow_ups')}
    )
    SELECT id FROM written`;
}

/** One settle of a batch, decided: the message as read, its lease, what to write, and its follow-ups. */
export interface DecidedSettle {
  message: LoadedMessage;
  leaseId: string;
  outcome: SettleOutcome;
  followUps: readonly { message: PreparedFollowUp; body: PreparedBody }[];
  now: number;
}

/**
 * The statement of settles of different messages (group commit; one is a batch too): returns the
 * ids of the messages written; a settle whose message changed since it was read is left out.
 * Follow-ups must have their bodies in at most one chunk (`body.writeChunks` unset); their bodies
 * travel as one binary parameter (a `bytea[]` would go as hex text, twice the bytes, parsed).
 */
export function settleStatement(s: string, settles: readonly DecidedSettle[]): Statement {
  const done = { ids: [] as string[], keys: [] as string[] };
  const kept = { ids: [] as string[], versions: [] as number[], warned: [] as boolean[], due: [] as number[] };
  // The lease list each kept message is left with (JSON, null for none): the settled lease gone.
  const leaseLists: (string | null)[] = [];
  const changed = {
    ids: [] as string[],
    positions: [] as number[],
    states: [] as string[],
    attempts: [] as number[],
    next: [] as number[],
    replies: [] as (string | null)[],
    expired: [] as boolean[],
  };
  const f = {
    parents: [] as string[],
    ids: [] as string[],
    senders: [] as string[],
    attributes: [] as string[],
    sizes: [] as number[],
    files: [] as (string | null)[],
    at: [] as number[],
  };
  const fr = { ids: [] as string[], positions: [] as number[], addresses: [] as string[], domains: [] as string[] };
  const frAt: number[] = [];
  const bodies = { ids: [] as string[], starts: [] as number[], lengths: [] as number[], data: [] as Buffer[] };
  let bodyBytes = 0;
  for (const { message, outcome, followUps, now } of settles) {
    const id = message.entry.stored.id;
    if (outcome.complete) {
      done.ids.push(id);
      done.keys.push(`${id}.${message.version}`);
    } else {
      kept.ids.push(id);
      kept.versions.push(message.version);
      kept.warned.push(outcome.warned);
      kept.due.push(outcome.dueAt);
      leaseLists.push(outcome.leases);
      for (const { position, r } of changedRecipients(message.entry.rcpts, outcome.rcpts)) {
        changed.ids.push(id);
        changed.positions.push(position);
        changed.states.push(r.state);
        changed.attempts.push(r.attempts);
        changed.next.push(r.next);
        changed.replies.push(r.reply ?? null);
        changed.expired.push(r.expired === true);
      }
    }
    for (const { message: followUp, body } of followUps) {
      f.parents.push(id);
      f.ids.push(followUp.id);
      f.senders.push(followUp.sender);
      f.attributes.push(JSON.stringify(followUp.attributes));
      f.sizes.push(body.size);
      f.files.push(body.bodyFile);
      f.at.push(now);
      const [addresses, domains] = recipientArrays(followUp.recipients);
      addresses.forEach((address, position) => {
        fr.ids.push(followUp.id);
        fr.positions.push(position);
        fr.addresses.push(address);
        fr.domains.push(domains[position]!);
        frAt.push(now);
      });
      if (body.chunk !== null) {
        bodies.ids.push(followUp.id);
        bodies.starts.push(bodyBytes + 1);
        bodies.lengths.push(body.chunk.byteLength);
        bodies.data.push(body.chunk);
        bodyBytes += body.chunk.byteLength;
      }
    }
  }
  const values = [
    // The arrays of every settle as array texts (see `arrayLiteral`).
    ...[done.ids, done.keys, kept.ids, kept.versions, kept.warned, kept.due, leaseLists].map(arrayLiteral),
    ...Object.values(changed),
    ...Object.values(f),
    ...Object.values(fr),
    frAt,
    Buffer.concat(bodies.data),
    bodies.ids,
    bodies.starts,
    bodies.lengths,
  ];
  return { name: `homing_queue_settle_${s.slice(1, -1)}`, text: settleText(s), values };
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
  | { complete: false; rcpts: RecipientEntry[]; warned: boolean; dueAt: number; leases: string | null };

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
    leases: leasesJson(after.leases.values()),
  };
  return { now, result, outcome };
}
