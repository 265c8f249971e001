import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TtlCache } from '../src/internal/cache';

/** The cache's rules written the plain way: a Map in recency order, re-inserted on every hit. */
class ModelCache {
  readonly entries = new Map<string, { value: number; expiresAt: number }>();
  constructor(
    readonly maxEntries: number,
    readonly clock: () => number,
  ) {}
  get(key: string): { value: number; remainingMs: number } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const remainingMs = entry.expiresAt - this.clock();
    this.entries.delete(key);
    if (remainingMs <= 0) return undefined;
    this.entries.set(key, entry);
    return { value: entry.value, remainingMs };
  }
  set(key: string, value: number, ttlSeconds: number): void {
    if (this.maxEntries <= 0 || ttlSeconds <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.clock() + ttlSeconds * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}

describe('the TTL cache', () => {
  it('keeps, expires and evicts (least recently used first) exactly as the plain model does', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', '__proto__', 'constructor');
    const step = fc.oneof(
      { arbitrary: fc.record({ op: fc.constant('get' as const), key }), weight: 4 },
      {
        arbitrary: fc.record({
          op: fc.constant('set' as const),
          key,
          value: fc.integer(),
          ttl: fc.integer({ min: -1, max: 30 }),
        }),
        weight: 4,
      },
      { arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3000 }) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(step, { maxLength: 200 }), (maxEntries, steps) => {
        let now = 1_000_000;
        const clock = () => now;
        const cache = new TtlCache<number>(maxEntries, clock);
        const model = new ModelCache(maxEntries, clock);
        for (const s of steps) {
          if (s.op === 'wait') now += s.ms;
          else if (s.op === 'set') {
            cache.set(s.key, s.value, s.ttl);
            model.set(s.key, s.value, s.ttl);
          } else expect(cache.get(s.key)).toEqual(model.get(s.key));
          expect(cache.size).toBe(model.entries.size);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
