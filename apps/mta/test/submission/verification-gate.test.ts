import { describe, expect, it } from 'vitest';
import { VerificationGate } from '../../src/server/submission/verification-gate';

describe('VerificationGate', () => {
  it('runs one password check at a time, in arrival order, passing results and errors through', async () => {
    const gate = new VerificationGate(1);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      order.push(n);
      if (n === 3) throw new Error('bad hash');
      return n;
    };
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => gate.run(task(n))));
    expect(most).toBe(1);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([1, 2, 'rejected', 4, 5]);
    expect(gate.queued).toBe(0);
  });

  it('lets `concurrency` checks run together', async () => {
    const gate = new VerificationGate(2);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        gate.run(async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
  });
});
