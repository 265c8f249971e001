// @homing/queue/testing: the Queue conformance suite. Every backend runs it
// (`runQueueConformance`), so the behaviour the README promises is checked on each one through
// the interface alone. It takes the test runner's functions as an argument (vitest's and jest's
// fit), so shipping it adds no dependency.
import { Readable } from 'node:stream';
import { registerDurableStepCases } from './internal/conformance-durable-steps';
import type { Queue } from './queue';
import { isQueueError } from './queue-error';

/** The assertions the suite uses; the `expect` of vitest or jest provides them. */
export interface ConformanceMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatchObject(expected: object): void;
  toBeUndefined(): void;
}

/** The test runner functions the suite registers its tests with: pass `{ describe, it, expect }`. */
export interface ConformanceTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  expect(actual: unknown): ConformanceMatchers;
}

/** A clock the tests move by hand. */
export class ManualClock {
  constructor(public time = Date.UTC(2026, 0, 1)) {}
  /** The queue's `now` option: an arrow, so it can be passed on alone (`now: clock.now`). */
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** What a backend under test gets: the clock (`now`) and jitter source to open the queue with. */
export interface ConformanceSetup {
  /** The clock to open the queue with (the queue's `now` option): reads `clock`. */
  now: () => number;
  /** The manual clock behind `now`, which the cases move. */
  clock: ManualClock;
  /** Fixed jitter source so backoff times are predictable. */
  random: () => number;
}
/** What `make` gives back: the queue, and how to restart it on the same storage. */
export interface ConformanceBackend {
  queue: Queue;
  /** Closes and opens the same storage again (a restart), when the backend persists. */
  reopen: () => Promise<Queue>;
}

const minute = 60_000;
const hour = 60 * minute;

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

async function* pieces(...parts: string[]): AsyncIterable<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

/** Registers the suite for one backend; `make` opens a fresh, empty queue (defaults: Postfix timings). */
export function runQueueConformance(
  test: ConformanceTestApi,
  name: string,
  make: (setup: ConformanceSetup) => Promise<ConformanceBackend>,
): void {
  const { describe, it, expect } = test;
  describe(`Queue conformance: ${name}`, () => {
    const setup = (): ConformanceSetup => {
      const clock = new ManualClock();
      return { now: clock.now, clock, random: () => 0.5 };
    };

    it('stores a message with prepended headers and reads the same bytes back', async () => {
      const s = setup();
      const { queue } = await make(s);
      const { id, size } = await queue.enqueue(
        { sender: 'alice@example.org', recipients: ['bob@example.net'], attributes: { client: '127.0.0.1' } },
        pieces('Subject: hi\r\n', '\r\nbody\r\n'),
        { prepend: 'Received: by test\r\n' },
      );
      expect(size).toBe(Buffer.byteLength('Received: by test\r\nSubject: hi\r\n\r\nbody\r\n'));
      expect(await text(await queue.openBody(id))).toBe('Received: by test\r\nSubject: hi\r\n\r\nbody\r\n');
      const info = await queue.inspect(id);
      expect(info).toMatchObject({
        id,
        sender: 'alice@example.org',
        attributes: { client: '127.0.0.1' },
        held: false,
        createdAt: s.clock.time,
        recipients: [{ address: 'bob@example.net', domain: 'example.net', state: 'pending', attempts: 0 }],
      });
      await queue.close();
    });

    it('accepts a Buffer body, a Readable stream and an empty body', async () => {
      const { queue } = await make(setup());
      const a = await queue.enqueue({ sender: '', recipients: ['x@a.test'] }, Buffer.from('raw'));
      const b = await queue.enqueue({ sender: '', recipients: ['x@a.test'] }, Buffer.alloc(0));
      const c = await queue.enqueue(
        { sender: '', recipients: ['x@a.test'] },
        Readable.from([Buffer.from('from '), 'a ', new Uint8Array([115, 116, 114, 101, 97, 109])]),
      );
      expect(await text(await queue.openBody(a.id))).toBe('raw');
      expect(await text(await queue.openBody(b.id))).toBe('');
      expect(await text(await queue.openBody(c.id))).toBe('from a stream');
      await queue.close();
    });

    it('rejects an envelope without recipients with a 501 5.5.4 reply', async () => {
      const { queue } = await make(setup());
      const error = await queue.enqueue({ sender: 'a@b.c', recipients: [] }, Buffer.from('x')).catch((e) => e);
      expect(isQueueError(error, 'INVALID_ENVELOPE')).toBe(true);
      expect(error.reply).toMatchObject({ code: 501, enhanced: '5.5.4' });
      const crlf = await queue
        .enqueue({ sender: 'a@b.c', recipients: ['x\r\n@b.c'] }, Buffer.from('x'))
        .catch((e) => e);
      expect(isQueueError(crlf, 'INVALID_ENVELOPE')).toBe(true);
      expect(await queue.list()).toEqual([]);
      await queue.close();
    });

    it('claims due recipients grouped by destination domain, each under its own lease', async () => {
      const { queue } = await make(setup());
      const { id } = await queue.enqueue(
        { sender: 's@o.test', recipients: ['a@one.test', 'b@two.test', 'c@ONE.test'] },
        Buffer.from('m'),
      );
      const claims = await queue.claim();
      expect(claims.map((c) => [c.id, c.domain, c.recipients.map((r) => r.address)])).toEqual([
        [id, 'one.test', ['a@one.test', 'c@ONE.test']],
        [id, 'two.test', ['b@two.test']],
      ]);
      expect(new Set(claims.map((c) => c.leaseId)).size).toBe(2);
      expect(await queue.claim()).toEqual([]);
      await queue.close();
    });

    it('claims only one domain, or every domain but some, and leaves the rest claimable', async () => {
      const { queue } = await make(setup());
      const { id } = await queue.enqueue(
        { sender: 's@o.test', recipients: ['a@one.test', 'b@two.test', 'c@three.test'] },
        Buffer.from('m'),
      );
      const outbound = await queue.claim({ exceptDomains: ['ONE.test', 'three.test'] });
      expect(outbound.map((c) => [c.id, c.domain])).toEqual([[id, 'two.test']]);
      const local = await queue.claim({ domain: 'one.test' });
      expect(local.map((c) => [c.id, c.domain])).toEqual([[id, 'one.test']]);
      expect((await queue.claim({ exceptDomains: ['one.test'] })).map((c) => c.domain)).toEqual(['three.test']);
      expect(await queue.claim()).toEqual([]);
      await queue.close();
    });

    it('hands a claim out again once its lease expired, and refuses the stale lease', async () => {
      const s = setup();
      const { queue } = await make(s);
      await queue.enqueue({ sender: 's@o.test', recipients: ['a@one.test'] }, Buffer.from('m'));
      const [first] = await queue.claim({ leaseMs: minute });
      s.clock.advance(minute - 1);
      expect(await queue.claim()).toEqual([]);
      s.clock.advance(1);
      const [second] = await queue.claim({ leaseMs: minute });
      expect(second?.id).toBe(first?.id);
      const stale = await queue.settle(first!.leaseId, []).catch((e) => e);
      expect(isQueueError(stale, 'LEASE_LOST')).toBe(true);
      const result = await queue.settle(second!.leaseId, [{ recipient: 'a@one.test', status: 'delivered' }]);
      expect(result.complete).toBe(true);
      await queue.close();
    });

    it('hands out due work oldest first within the limit, and all of it again once the leases expire', async () => {
      const s = setup();
      const { queue } = await make(s);
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        ids.push((await queue.enqueue({ sender: 's@o.test', recipients: [`r${i}@x.test`] }, Buffer.from('m'))).id);
        s.clock.advance(1);
      }
      expect((await queue.claim({ limit: 2, leaseMs: minute })).map((c) => c.id)).toEqual(ids.slice(0, 2));
      expect((await queue.claim({ limit: 10, leaseMs: minute })).map((c) => c.id)).toEqual(ids.slice(2));
      expect(await queue.claim()).toEqual([]);
      s.clock.advance(minute);
      expect((await queue.claim({ limit: 10 })).map((c) => c.id)).toEqual(ids);
      await queue.close();
    });

    it('removes a message once every recipient is delivered or failed, returning the failed ones', async () => {
      const { queue } = await make(setup());
      const { id } = await queue.enqueue(
        { sender: 's@o.test', recipients: ['a@x.test', 'b@x.test'] },
        Buffer.from('m'),
      );
      const [claim] = await queue.claim();
      const result = await queue.settle(claim!.leaseId, [
        { recipient: 'a@x.test', status: 'delivered', reply: '250 2.0.0 ok' },
        { recipient: 'B@x.test', status: 'failed', reply: '550 5.1.1 no such user' },
      ]);
      expect(result).toMatchObject({ id, complete: true, delayWarning: [] });
      expect(result.failed).toMatchObject([{ address: 'b@x.test', state: 'failed', reply: '550 5.1.1 no such user' }]);
      expect(await queue.inspect(id)).toBeUndefined();
      expect(await queue.claim()).toEqual([]);
      await queue.close();
    });

    it('defers with backoff, keeps the last reply, and retries when due', async () => {
      const s = setup();
      const { queue } = await make(s);
      const { id } = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const start = s.clock.time;
      const [claim] = await queue.claim();
      const result = await queue.settle(claim!.leaseId, [
        { recipient: 'a@x.test', status: 'deferred', reply: '451 4.7.1 try later' },
      ]);
      expect(result.complete).toBe(false);
      // Default minimal backoff 300 s, jitter 10% at random 0.5: 285 s.
      expect(result.nextAttemptAt).toBe(start + 285_000);
      expect((await queue.inspect(id))?.recipients[0]).toMatchObject({
        state: 'deferred',
        attempts: 1,
        reply: '451 4.7.1 try later',
        nextAttemptAt: start + 285_000,
      });
      s.clock.advance(284_999);
      expect(await queue.claim()).toEqual([]);
      s.clock.advance(1);
      const [again] = await queue.claim();
      expect(again?.recipients).toEqual([{ address: 'a@x.test', attempts: 1 }]);
      const second = await queue.settle(again!.leaseId, [{ recipient: 'a@x.test', status: 'deferred' }]);
      expect(second.nextAttemptAt).toBe(s.clock.time + 570_000);
      await queue.close();
    });

    it('puts recipients without an outcome straight back in the queue', async () => {
      const { queue } = await make(setup());
      await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test', 'b@x.test'] }, Buffer.from('m'));
      const [claim] = await queue.claim();
      await queue.settle(claim!.leaseId, [{ recipient: 'a@x.test', status: 'delivered' }]);
      const [next] = await queue.claim();
      expect(next?.recipients).toEqual([{ address: 'b@x.test', attempts: 0 }]);
      await queue.close();
    });

    it('reports a delay warning once, after 4 hours of deferrals', async () => {
      const s = setup();
      const { queue } = await make(s);
      await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const deferOnce = async () => {
        const [claim] = await queue.claim();
        return queue.settle(claim!.leaseId, [{ recipient: 'a@x.test', status: 'deferred', reply: '421 busy' }]);
      };
      expect((await deferOnce()).delayWarning).toEqual([]);
      s.clock.advance(4 * hour);
      const warned = await deferOnce();
      expect(warned.delayWarning).toMatchObject([{ address: 'a@x.test', state: 'deferred', reply: '421 busy' }]);
      s.clock.advance(2 * hour);
      expect((await deferOnce()).delayWarning).toEqual([]);
      await queue.close();
    });

    it('fails deferred recipients for a bounce once the message is 5 days old, never scheduling past it', async () => {
      const s = setup();
      const { queue } = await make(s);
      const { id } = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('m'));
      const expiresAt = s.clock.time + 5 * 24 * hour;
      s.clock.advance(5 * 24 * hour - 10_000);
      const [claim] = await queue.claim();
      const last = await queue.settle(claim!.leaseId, [{ recipient: 'a@x.test', status: 'deferred', reply: '451 x' }]);
      expect(last.nextAttemptAt).toBe(expiresAt);
      s.clock.time = expiresAt;
      const [final] = await queue.claim();
      const result = await queue.settle(final!.leaseId, [
        { recipient: 'a@x.test', status: 'deferred', reply: '451 y' },
      ]);
      expect(result.complete).toBe(true);
      expect(result.failed).toMatchObject([{ address: 'a@x.test', state: 'failed', expired: true, reply: '451 y' }]);
      expect(await queue.inspect(id)).toBeUndefined();
      await queue.close();
    });

    it('holds, releases and removes messages', async () => {
      const { queue } = await make(setup());
      const a = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test'] }, Buffer.from('a'));
      const b = await queue.enqueue({ sender: 's@o.test', recipients: ['b@x.test'] }, Buffer.from('b'));
      await queue.hold(a.id);
      expect((await queue.inspect(a.id))?.held).toBe(true);
      expect((await queue.claim()).map((c) => c.id)).toEqual([b.id]);
      await queue.release(a.id);
      expect((await queue.claim()).map((c) => c.id)).toEqual([a.id]);
      await queue.remove(b.id);
      expect(await queue.inspect(b.id)).toBeUndefined();
      expect((await queue.list()).map((m) => m.id)).toEqual([a.id]);
      const missing = await queue.hold('0000000000000000').catch((e) => e);
      expect(isQueueError(missing, 'NOT_FOUND')).toBe(true);
      await queue.close();
    });

    it('reschedules one deferred message, or all, to now', async () => {
      const s = setup();
      const { queue } = await make(s);
      for (const rcpt of ['a@x.test', 'b@y.test']) {
        await queue.enqueue({ sender: 's@o.test', recipients: [rcpt] }, Buffer.from('m'));
      }
      for (const claim of await queue.claim()) {
        await queue.settle(claim.leaseId, [{ recipient: claim.recipients[0]!.address, status: 'deferred' }]);
      }
      expect(await queue.claim()).toEqual([]);
      const [first] = await queue.list();
      expect(await queue.reschedule(first!.id)).toBe(1);
      expect((await queue.claim()).map((c) => c.id)).toEqual([first!.id]);
      expect(await queue.reschedule()).toBe(1);
      expect((await queue.claim()).map((c) => c.domain)).toEqual(['y.test']);
      await queue.close();
    });

    it('lists with filters by sender, recipient, domain and state', async () => {
      const { queue } = await make(setup());
      const a = await queue.enqueue({ sender: 'one@o.test', recipients: ['a@x.test', 'b@y.test'] }, Buffer.from('a'));
      const b = await queue.enqueue({ sender: 'two@o.test', recipients: ['c@y.test'] }, Buffer.from('b'));
      const c = await queue.enqueue({ sender: 'two@o.test', recipients: ['d@z.test'] }, Buffer.from('c'));
      await queue.hold(c.id);
      const [claim] = await queue.claim({ domain: 'y.test', limit: 1 });
      await queue.settle(claim!.leaseId, [{ recipient: 'b@y.test', status: 'deferred' }]);
      const ids = async (filter: Parameters<Queue['list']>[0]) => (await queue.list(filter)).map((m) => m.id);
      expect(await ids({})).toEqual([a.id, b.id, c.id]);
      expect(await ids({ sender: 'two@o.test' })).toEqual([b.id, c.id]);
      expect(await ids({ recipient: 'A@x.test' })).toEqual([a.id]);
      expect(await ids({ domain: 'y.test' })).toEqual([a.id, b.id]);
      expect(await ids({ state: 'deferred' })).toEqual([a.id]);
      expect(await ids({ state: 'held' })).toEqual([c.id]);
      expect(await ids({ state: 'pending', limit: 2 })).toEqual([a.id, b.id]);
      await queue.close();
    });

    it('keeps every state change across a restart and never hands a settled recipient out again', async () => {
      const s = setup();
      const backend = await make(s);
      const queue = backend.queue;
      const a = await queue.enqueue({ sender: 's@o.test', recipients: ['a@x.test', 'b@x.test'] }, Buffer.from('a'));
      const b = await queue.enqueue({ sender: 's@o.test', recipients: ['c@y.test'] }, Buffer.from('b'));
      const c = await queue.enqueue({ sender: 's@o.test', recipients: ['d@z.test'] }, Buffer.from('c'));
      const [claim] = await queue.claim({ domain: 'x.test' });
      await queue.settle(claim!.leaseId, [
        { recipient: 'a@x.test', status: 'delivered' },
        { recipient: 'b@x.test', status: 'deferred', reply: '451 later' },
      ]);
      await queue.hold(b.id);
      await queue.claim({ domain: 'z.test' }); // leased, not settled: the lease ends with the restart
      const reopened = await backend.reopen();
      expect(await reopened.inspect(a.id)).toMatchObject({
        recipients: [
          { state: 'delivered', attempts: 1 },
          { state: 'deferred', attempts: 1, reply: '451 later' },
        ],
      });
      expect((await reopened.inspect(b.id))?.held).toBe(true);
      expect((await reopened.claim()).map((x) => [x.id, x.recipients.map((r) => r.address)])).toEqual([
        [c.id, ['d@z.test']],
      ]);
      expect(await text(await reopened.openBody(a.id))).toBe('a');
      await reopened.close();
    });

    registerDurableStepCases(test, make, setup);
  });
}
