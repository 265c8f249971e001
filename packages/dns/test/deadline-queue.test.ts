import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type Expiring } from '../src/internal/deadline-queue';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** An item that notes when it expired. */
const item = (expired: number[], label: number, onExpire?: () => void): Expiring => ({
  expire: () => {
    expired.push(label);
    onExpire?.();
  },
  deadline: 0,
  newer: undefined,
  older: undefined,
  queued: false,
});

describe('the deadline queue of the UDP queries', () => {
  it('holds only the queries in flight, also while an unanswered one waits out its timeout', () => {
    const queue = new DeadlineQueue(() => Date.now());
    const expired: number[] = [];
    queue.add(item(expired, -1), 2000); // its answer was lost: it stays until it times out
    const inFlight: Expiring[] = [];
    for (let i = 0; i < 10_000; i++) {
      const query = item(expired, i);
      queue.add(query, 2000);
      inFlight.push(query);
      if (inFlight.length > 32) queue.cancel(inFlight.shift() as Expiring);
      vi.advanceTimersByTime(0.1); // 10,000 queries in one second, all within one timeout
    }
    expect(queue.size).toBe(33);
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual([-1, ...Array.from({ length: 32 }, (_, i) => 10_000 - 32 + i)]);
    expect(queue.size).toBe(0);
  });

  it('expires exactly the queries not cancelled, in the order they were added', () => {
    const queue = new DeadlineQueue(() => Date.now());
    const expired: number[] = [];
    const items = Array.from({ length: 500 }, (_, i) => item(expired, i));
    for (const query of items) queue.add(query, 1000);
    const cancelled = new Set<number>();
    for (let i = 0; i < 500; i++) if ((i * 7919) % 3 !== 0) cancelled.add(i);
    for (const i of [...cancelled].reverse()) queue.cancel(items[i] as Expiring);
    queue.cancel(items[1] as Expiring); // cancelling twice is harmless (1 is among those cancelled)
    expect(queue.size).toBe(500 - cancelled.size);
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(Array.from({ length: 500 }, (_, i) => i).filter((i) => !cancelled.has(i)));
  });

  it('gives a query added while another expires its whole timeout, with a single timer', () => {
    const queue = new DeadlineQueue(() => Date.now());
    const expired: number[] = [];
    queue.add(
      item(expired, 1, () => queue.add(item(expired, 3), 1000)),
      1000,
    );
    vi.advanceTimersByTime(500);
    queue.add(item(expired, 2), 1000);
    vi.advanceTimersByTime(500); // 1 expires and adds 3, due at 2000
    expect(expired).toEqual([1]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(500); // 2 is due at 1500, not only when 3's whole timeout has passed
    expect(expired).toEqual([1, 2]);
    vi.advanceTimersByTime(500);
    expect(expired).toEqual([1, 2, 3]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
