import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DueIndex } from '../src/internal/due-index';

describe('DueIndex (the heap claim takes due messages from)', () => {
  it('pops exactly the items due at now, earliest first, then by acceptance sequence, then first pushed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 50 }), seq: fc.integer({ min: 0, max: 5 }) }), {
          maxLength: 200,
        }),
        fc.integer({ min: 0, max: 50 }),
        (items, now) => {
          const index = new DueIndex();
          items.forEach((item, i) => {
            index.push(String(i), item.at, item.seq, 0);
          });
          const popped: number[] = [];
          for (let item = index.popDue(now); item !== undefined; item = index.popDue(now)) popped.push(Number(item.id));
          const expected = items
            .map((item, i) => ({ ...item, i }))
            .filter((item) => item.at <= now)
            .sort((a, b) => a.at - b.at || a.seq - b.seq || a.i - b.i)
            .map((item) => item.i);
          expect(popped).toEqual(expected);
          expect(index.size).toBe(items.length - expected.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
