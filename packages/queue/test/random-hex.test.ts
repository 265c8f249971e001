import { describe, expect, it } from 'vitest';
import { randomHex } from '../src/internal/random-hex';

describe('randomHex', () => {
  it('gives ids of the asked length, all different, across refills of its buffer', () => {
    const ids = Array.from({ length: 3000 }, (_, i) => randomHex(i % 2 === 0 ? 8 : 6));
    for (const [i, id] of ids.entries()) expect(id).toMatch(i % 2 === 0 ? /^[0-9a-f]{16}$/ : /^[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
