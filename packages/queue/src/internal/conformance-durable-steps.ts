// The conformance cases of acceptance order, expiry of messages nobody tries, follow-ups committed
// with a settle, and lease renewal. Registered by `runQueueConformance` (../testing.ts).
import type { Readable } from 'node:stream';
import { isQueueError } from '../queue-error';
import type { ConformanceBackend, ConformanceSetup, ConformanceTestApi } from '../testing';

const minute = 60_000;
const day = 24 * 60 * minute;
const lifetime = 5 * day; // the default maximal lifetime (Postfix's maximal_queue_lifetime)

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

const bounceOf = (id: string, failed: string) => ({
  envelope: { sender: '', recipients: ['s@o.test'], attributes: { bounceOf: id, failed } },
  body: `Subject: Undelivered Mail Returned to Sender\r\n\r\n${failed}\r\n`,
  options: { prepend: 'Received: by conformance\r\n' },
});

/** Registers the cases; `setup` makes a fresh manual clock and jitter source for each. */
export function registerDurableStepCases(
  test: ConformanceTestApi,
  make: (setup: ConformanceSetup) => Promise<ConformanceBackend>,
  setup: () => ConformanceSetup,
): void {
  const { describe, it, expect } = test;

  describe('acceptance order', () => {
    it('lists and claims messages accepted in the same millisecond in acceptance order, the same after a restart', async () => {
      const s = setup();
      const backend = await make(s);
      const queue = backend.queue;
      const sequential: string[] = [];
      for (let i = 0; i < 12; i += 1) {
        sequential.push(
          (await queue.enqueue({ sender: 's@o.test', recipients: [`r${i}@x.test`] }, Buffer.from('m'))).id,
        );
      }
      // Concurrent enqueues: their relative order is the backend's, but it must be one order, kept.
      const concurrent = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          queue.enqueue({ sender: 's@o.test', recipients: [`c${i}@y.test`] }, Buffer.from('m')),
        ),
      );
      const listed = await queue.list();
      expect(listed.slice(0, 12).map((m) => m.id)).toEqual(sequential);
      expect(new Set(listed.slice(12).map((m) => m.id))).toEqual(new Set(concurrent.map((r) => r.id)));
      expect(listed.every((m) => m.createdAt === s.clock.time)).toBe(true);
      const seqs = listed.map((m) => m.seq);
      expect(seqs.every((seq, i) => typeof seq === 'number' && (i === 0 || seq > (seqs[i - 1] as number)))).toBe(true);
      const order = listed.map((m) => [m.id, m.seq]);
      // Claims of messages due at the same instant come in the same order.
      expect((await queue.claim({ limit: 100, leaseMs: minute })).map((c) => c.id)).toEqual(order.map(([id]) => id));
      const reopened = await backend.reopen();
      expect((await reopened.list()).map((m) => [m.id, m.seq])).toEqual(order);
      expect((await reopened.list({ limit: 5 })).map((m) => m.id)).toEqual(order.slice(0, 5).map(([id]) => id));
      expect((await reopened.claim({ limit: 100 })).map((c) => c.id)).toEqual(order.map(([id]) => id));
      // Monotonic across the restart: a message accepted now comes after all of them.
      const later = await reopened.enqueue({ sender: 's@o.test', recipients: ['z@z.test'] }, Buffer.from('m'));
      const last = (await reopened.list()).at(-1);
      expect(last?.id).toBe(later.id);
      expect((last?.seq as number) > (order.at(-1)?.[1] as number)).toBe(true);
      await reopened.close();
    });

    it('never hands out a sequence again, even after the messages that carried the highest ones left', async () => {
      const s = setup();
      const backend = await make(s);
      const queue = backend.queue;
      const kept = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('a'));
      const gone = await queue.enqueue({ sender: 's@o.test', recipients: ['b@y.test'] }, Buffer.from('b'));
      const goneSeq = (await queue.inspect(gone.id))?.seq as number;
      await queue.remove(gone.id);
      const reopened = await backend.reopen();
      const next = await reopened.enqueue({ sender: 's@o.test', recipients: ['c@z.test'] }, Buffer.from('c'));
      expect(((await reopened.inspect(next.id))?.seq as number) > goneSeq).toBe(true);
      expect((await reopened.list()).map((m) => m.id)).toEqual([kept.id, next.id]);
      await reopened.close();
    });
  });

  describe('expiry of messages nobody tries', () => {
    it('hands out a message never claimed before its lifetime ran out as an expired claim', async () => {
      const s = setup();
      const { queue } = await make(s);
      const { id } = await queue.enqueue(
        { sender: 's@o.test', recipients: ['a@x.test', 'b@y.test'] },
        Buffer.from('m'),
      );
      s.clock.advance(lifetime);
      const claims = await queue.claim();
      expect(claims.map((c) => [c.id, c.domain, c.expired])).toEqual([
        [id, 'x.test', true],
        [id, 'y.test', true],
      ]);
      await queue.close();
    });

    it('hands out a held message when its lifetime runs out, and not a millisecond before', async () => {
      const s = setup();
      const { queue } = await make(s);
      const { id } = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      await queue.hold(id);
      s.clock.advance(lifetime - 1);
      expect(await queue.claim()).toEqual([]);
      s.clock.advance(1);
      const [claim] = await queue.claim();
      expect(claim).toMatchObject({ id, domain: 'x.test', expired: true, recipients: [{ address: 'a@x.test' }] });
      const result = await queue.settle(
        claim!.leaseId,
        [{ recipient: 'a@x.test', status: 'failed', reply: 'message expired' }],
        { enqueue: [bounceOf(id, 'a@x.test')] },
      );
      expect(result.complete).toBe(true);
      expect(result.failed).toMatchObject([{ address: 'a@x.test', state: 'failed', expired: true }]);
      expect(await queue.inspect(id)).toBeUndefined();
      expect((await queue.list()).map((m) => [m.sender, m.attributes.bounceOf])).toEqual([['', id]]);
      await queue.close();
    });

    it('hands a recipient deferred after the lifetime ran out, on a claim from before, back as an expired claim to bounce', async () => {
      const s = setup();
      const { queue } = await make(s);
      const { id } = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      s.clock.advance(lifetime - 1);
      const [claim] = await queue.claim();
      expect(claim?.expired).toBeUndefined();
      s.clock.advance(10_000); // the delivery outlasted the lifetime, then deferred
      const deferred = await queue.settle(claim!.leaseId, [{ recipient: 'a@x.test', status: 'deferred' }]);
      // Not failed here, where no bounce came with it: it is due again at once, as an expired claim.
      expect(deferred).toMatchObject({ complete: false, failed: [], nextAttemptAt: s.clock.time });
      const [expired] = await queue.claim();
      expect(expired).toMatchObject({ id, expired: true, recipients: [{ address: 'a@x.test', attempts: 1 }] });
      const result = await queue.settle(expired!.leaseId, [{ recipient: 'a@x.test', status: 'deferred' }], {
        enqueue: [bounceOf(id, 'a@x.test')],
      });
      expect(result.complete).toBe(true);
      expect(result.failed).toMatchObject([{ address: 'a@x.test', state: 'failed', expired: true }]);
      expect(result.enqueued.length).toBe(1);
      await queue.close();
    });
  });

  describe('follow-up messages committed with a settle', () => {
    it('queues the bounce in the same settle that fails the last recipient, and keeps it across a restart', async () => {
      const s = setup();
      const backend = await make(s);
      const queue = backend.queue;
      const { id } = await queue.enqueue(
        { sender: 's@o.test', recipients: ['a@x.test', 'b@x.test'] },
        Buffer.from('m'),
      );
      const [claim] = await queue.claim();
      const result = await queue.settle(
        claim!.leaseId,
        [
          { recipient: 'a@x.test', status: 'delivered' },
          { recipient: 'b@x.test', status: 'failed', reply: '550 5.1.1 no such user' },
        ],
        { enqueue: [bounceOf(id, 'b@x.test')] },
      );
      expect(result.complete).toBe(true);
      expect(result.enqueued.length).toBe(1);
      const bounce = result.enqueued[0]!;
      const expected = `Received: by conformance\r\n${bounceOf(id, 'b@x.test').body}`;
      expect(bounce.size).toBe(Buffer.byteLength(expected));
      expect(await queue.inspect(bounce.id)).toMatchObject({
        sender: '',
        attributes: { bounceOf: id, failed: 'b@x.test' },
        recipients: [{ address: 's@o.test', state: 'pending' }],
      });
      const reopened = await backend.reopen();
      expect(await reopened.inspect(id)).toBeUndefined();
      expect((await reopened.list()).map((m) => m.id)).toEqual([bounce.id]);
      expect(await text(await reopened.openBody(bounce.id))).toBe(expected);
      const [bounceClaim] = await reopened.claim();
      expect(bounceClaim?.id).toBe(bounce.id);
      await reopened.close();
    });

    it('returns an empty list of follow-ups for a settle without any', async () => {
      const { queue } = await make(setup());
      await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const [claim] = await queue.claim();
      const result = await queue.settle(claim!.leaseId, [{ recipient: 'a@x.test', status: 'deferred' }]);
      expect(result.enqueued).toEqual([]);
      await queue.close();
    });

    it('commits neither outcomes nor follow-ups of a settle that is refused', async () => {
      const s = setup();
      const backend = await make(s);
      const queue = backend.queue;
      const { id } = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const [first] = await queue.claim({ leaseMs: minute });
      // A follow-up without recipients: the whole settle is refused, the outcome too.
      const invalid = await queue
        .settle(first!.leaseId, [{ recipient: 'a@x.test', status: 'failed' }], {
          enqueue: [{ envelope: { sender: '', recipients: [] }, body: 'x' }],
        })
        .catch((e) => e);
      expect(isQueueError(invalid, 'INVALID_ENVELOPE')).toBe(true);
      expect((await queue.inspect(id))?.recipients[0]?.state).toBe('pending');
      s.clock.advance(minute);
      const [second] = await queue.claim({ leaseMs: minute });
      const stale = await queue
        .settle(first!.leaseId, [{ recipient: 'a@x.test', status: 'failed' }], { enqueue: [bounceOf(id, 'a')] })
        .catch((e) => e);
      expect(isQueueError(stale, 'LEASE_LOST')).toBe(true);
      expect((await queue.list()).map((m) => m.id)).toEqual([id]);
      const reopened = await backend.reopen();
      expect((await reopened.list()).map((m) => m.id)).toEqual([id]);
      expect(second?.id).toBe(id);
      await reopened.close();
    });
  });

  describe('lease renewal', () => {
    it('renews a lease so that the work is not handed out again when the first term ends', async () => {
      const s = setup();
      const { queue } = await make(s);
      await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const [claim] = await queue.claim({ leaseMs: minute });
      s.clock.advance(minute - 10_000);
      const until = await queue.renewLease(claim!.leaseId, 2 * minute);
      expect(until).toBe(s.clock.time + 2 * minute);
      s.clock.advance(minute); // past the first term
      expect(await queue.claim()).toEqual([]);
      s.clock.advance(minute); // past the renewed term
      const [again] = await queue.claim({ leaseMs: minute });
      expect(again?.id).toBe(claim?.id);
      const lost = await queue.renewLease(claim!.leaseId, minute).catch((e) => e);
      expect(isQueueError(lost, 'LEASE_LOST')).toBe(true);
      const result = await queue.settle(again!.leaseId, [{ recipient: 'a@x.test', status: 'delivered' }]);
      expect(result.complete).toBe(true);
      await queue.close();
    });

    it('rejects renewing an unknown or settled lease with LEASE_LOST', async () => {
      const { queue } = await make(setup());
      await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const [claim] = await queue.claim();
      await queue.settle(claim!.leaseId, [{ recipient: 'a@x.test', status: 'deferred' }]);
      for (const leaseId of [claim!.leaseId, 'no-such-lease']) {
        const error = await queue.renewLease(leaseId, minute).catch((e) => e);
        expect(isQueueError(error, 'LEASE_LOST')).toBe(true);
      }
      await queue.close();
    });
  });
}
