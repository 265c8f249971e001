import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/server/submission/auth-throttle';

function throttle() {
  let now = 1_000_000;
  const t = new AuthThrottle({ now: () => now, maxFailuresPerAddress: 3, windowMs: 60_000, blockMs: 120_000 });
  return { t, advance: (ms: number) => (now += ms) };
}

describe('AuthThrottle', () => {
  it('lets a clean address try at once', () => {
    expect(throttle().t.before('192.0.2.1', 'alice@example.org')).toEqual({ refuse: false, delayMs: 0 });
  });

  it('grows the delay of an address with each failure', () => {
    const { t } = throttle();
    t.failed('192.0.2.1', 'alice@example.org');
    const first = t.before('192.0.2.1', 'bob@example.org');
    t.failed('192.0.2.1', 'bob@example.org');
    const second = t.before('192.0.2.1', 'carol@example.org');
    expect(first.refuse).toBe(false);
    expect(second.refuse).toBe(false);
    if (!first.refuse && !second.refuse) expect(second.delayMs).toBeGreaterThan(first.delayMs);
  });

  it('refuses an address after too many failures, for the block time only', () => {
    const { t, advance } = throttle();
    expect(t.failed('192.0.2.1', 'a@example.org')).toBe(false);
    expect(t.failed('192.0.2.1', 'a@example.org')).toBe(false);
    expect(t.failed('192.0.2.1', 'a@example.org')).toBe(true);
    expect(t.before('192.0.2.1', 'a@example.org')).toMatchObject({ refuse: true });
    advance(121_000);
    expect(t.before('192.0.2.1', 'a@example.org')).toMatchObject({ refuse: false });
  });

  it('slows a user attacked from many addresses but never refuses the user from a clean address', () => {
    const { t } = throttle();
    for (let i = 0; i < 50; i++) t.failed(`198.51.100.${i}`, 'alice@example.org');
    const advice = t.before('192.0.2.200', 'Alice@Example.org');
    expect(advice.refuse).toBe(false);
    if (!advice.refuse) {
      expect(advice.delayMs).toBeGreaterThan(0);
      expect(advice.delayMs).toBeLessThanOrEqual(2000);
    }
  });

  it('forgets an address once it authenticates', () => {
    const { t } = throttle();
    t.failed('192.0.2.1', 'a@example.org');
    t.succeeded('192.0.2.1');
    expect(t.before('192.0.2.1', 'b@example.org')).toEqual({ refuse: false, delayMs: 0 });
  });
});
