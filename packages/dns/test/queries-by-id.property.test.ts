import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PendingQuery, QueriesById } from '../src/internal/udp-pool';

const query = (): PendingQuery => ({ onMessage: () => {}, onError: () => {} });

describe('the table of the queries waiting on one UDP socket', () => {
  it('finds what a Map would find after any run of adds and removes (ids that collide included)', () => {
    // Ids from a small range share home slots (id & 255), so probing runs and backward-shift deletion are exercised.
    const id = fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.constantFrom(1, 257, 513, 769, 1025, 255, 511, 0));
    const step = fc.record({ add: fc.boolean(), id });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        const table = new QueriesById();
        const model = new Map<number, PendingQuery>();
        for (const { add, id } of steps) {
          if (add && !model.has(id) && model.size < 100) {
            const value = query();
            table.set(id, value);
            model.set(id, value);
          } else if (!add) {
            table.delete(id);
            model.delete(id);
          }
          expect(table.size).toBe(model.size);
        }
        for (let probe = 0; probe < 65_536; probe += 1 + (probe % 97)) expect(table.get(probe)).toBe(model.get(probe));
        for (const [key, value] of model) expect(table.get(key)).toBe(value);
        expect(new Set(table.values())).toEqual(new Set(model.values()));
      }),
      { numRuns: 300 },
    );
  });
});
