// Group commit for PostgreSQL, as the file backend does it for fsyncs: the enqueues that arrive
// while the previous statements run go together into one multi-row statement, one transaction,
// one WAL flush; each still resolves only once that statement (its COMMIT) returned.
import type { PoolClient } from 'pg';
import type { PreparedBody } from './body-storage';
import { insertMessageSql, recipientArrays } from './message-rows';

/** A message waiting for its commit: envelope fields and a body of at most one chunk. */
export interface PendingMessage {
  id: string;
  sender: string;
  recipients: string[];
  attributes: Record<string, string>;
  body: PreparedBody;
}

/** Inserts one message inside the caller's transaction, its chunks after the first too. */
export async function insertMessage(
  client: PoolClient,
  s: string,
  message: PendingMessage,
  createdAt: number,
): Promise<void> {
  const [addresses, domains] = recipientArrays(message.recipients);
  await client.query(insertMessageSql(s), [
    message.id,
    message.sender,
    JSON.stringify(message.attributes),
    message.body.size,
    createdAt,
    message.body.bodyFile,
    addresses,
    domains,
    message.body.chunk,
  ]);
  await message.body.writeChunks?.(client);
}

/** The statement that inserts `batch`, its recipients and chunks, created at `createdAt`. */
export function insertBatchStatement(s: string, batch: readonly PendingMessage[], createdAt: number) {
  const rcpt = { ids: [] as string[], positions: [] as number[], addresses: [] as string[], domains: [] as string[] };
  for (const message of batch) {
    const [addresses, domains] = recipientArrays(message.recipients);
    addresses.forEach((address, position) => {
      rcpt.ids.push(message.id);
      rcpt.positions.push(position);
      rcpt.addresses.push(address);
      rcpt.domains.push(domains[position]!);
    });
  }
  const withChunk = batch.filter((message) => message.body.chunk !== null);
  const starts: number[] = [];
  let start = 1;
  for (const message of withChunk) {
    starts.push(start);
    start += message.body.chunk!.byteLength;
  }
  // ORDER BY the position in the batch: `seq` (nextval per row) follows the order of arrival.
  const text = `WITH m AS (
      INSERT INTO ${s}.messages (id, sender, attributes, size, created_at, due_at, body_file)
      SELECT x.id, x.sender, x.attributes, x.size, $5, $5, x.body_file
      FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $6::text[])
        WITH ORDINALITY AS x(id, sender, attributes, size, body_file, n)
      ORDER BY x.n
      RETURNING id
    ), r AS (
      INSERT INTO ${s}.recipients (message_id, position, address, domain, state, attempts, next_attempt_at)
      SELECT y.id, y.position, y.address, y.domain, 'pending', 0, $5
      FROM unnest($7::text[], $8::integer[], $9::text[], $10::text[]) AS y(id, position, address, domain)
    ), b AS (
      INSERT INTO ${s}.body_chunks (message_id, n, data)
      SELECT z.id, 0, substring($12::bytea FROM z.start FOR z.length)
      FROM unnest($11::text[], $13::integer[], $14::integer[]) AS z(id, start, length)
    )
    SELECT count(*)::integer AS n FROM m`;
  const values = [
    batch.map((m) => m.id),
    batch.map((m) => m.sender),
    batch.map((m) => JSON.stringify(m.attributes)),
    batch.map((m) => m.body.size),
    createdAt,
    batch.map((m) => m.body.bodyFile),
    rcpt.ids,
    rcpt.positions,
    rcpt.addresses,
    rcpt.domains,
    withChunk.map((m) => m.id),
    // The bodies as one binary parameter: a `bytea[]` goes as hex text (twice the bytes, then
    // parsed), which made 10 KiB enqueues at concurrency 64 a quarter as fast.
    Buffer.concat(withChunk.map((m) => m.body.chunk!)),
    starts,
    withChunk.map((m) => m.body.chunk!.byteLength),
  ];
  return { name: `homing_queue_enqueue_${s.slice(1, -1)}`, text, values };
}

/**
 * Gathers enqueues into batches: at most `inFlight` statements at a time, each of at most
 * `maxMessages` messages and about `maxBytes` of bodies. A batch that fails is tried again message
 * by message, so that one message the database refuses does not fail the others.
 */
export class EnqueueBatcher {
  private waiting: { message: PendingMessage; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly commit: (batch: readonly PendingMessage[]) => Promise<void>,
    private readonly inFlight = 4,
    private readonly maxMessages = 256,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** Resolves once `message` is committed. */
  add(message: PendingMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ message, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // The enqueues of this turn of the event loop go together.
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.running < this.inFlight && this.waiting.length > 0) {
      let bytes = 0;
      let count = 0;
      while (count < this.waiting.length && count < this.maxMessages && (count === 0 || bytes < this.maxBytes)) {
        bytes += this.waiting[count]!.message.body.size;
        count += 1;
      }
      const batch = this.waiting.splice(0, count);
      this.running += 1;
      void this.run(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async run(batch: typeof this.waiting): Promise<void> {
    try {
      await this.commit(batch.map((item) => item.message));
      for (const item of batch) item.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      await Promise.all(
        batch.map((item) =>
          this.commit([item.message]).then(
            () => item.resolve(),
            (alone: unknown) => item.reject(alone),
          ),
        ),
      );
    }
  }
}
