import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextAttempt, retryScheduleDefaults } from '../src/index';

const options = fc.record({
  minimalBackoffMs: fc.integer({ min: 1, max: 3_600_000 }),
  extraBackoffMs: fc.integer({ min: 0, max: 20_000_000 }),
  maximalLifetimeMs: fc.integer({ min: 1, max: 30 * 86_400_000 }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
});

const runOptions = fc.record({
  minimalBackoffMs: fc.integer({ min: 60_000, max: 3_600_000 }),
  extraBackoffMs: fc.integer({ min: 0, max: 20_000_000 }),
  maximalLifetimeMs: fc.integer({ min: 1, max: 2 * 86_400_000 }),
  jitter: fc.double({ min: 0, max: 0.5, noNaN: true }),
});

describe('nextAttempt (retry schedule)', () => {
  it('uses the Postfix defaults: 300 s first, doubling, capped at 4000 s, 5 days lifetime', () => {
    expect(retryScheduleDefaults).toEqual({
      minimalBackoffMs: 300_000,
      maximalBackoffMs: 4_000_000,
      maximalLifetimeMs: 432_000_000,
      jitter: 0.1,
    });
    const at = (attempts: number) => nextAttempt({ attempts, createdAt: 0, now: 1000, random: 0 });
    expect(at(1)).toEqual({ action: 'retry', at: 301_000 });
    expect(at(2)).toEqual({ action: 'retry', at: 601_000 });
    expect(at(4)).toEqual({ action: 'retry', at: 2_401_000 });
    expect(at(5)).toEqual({ action: 'retry', at: 4_001_000 });
    expect(at(50)).toEqual({ action: 'retry', at: 4_001_000 });
  });

  it('expires a deferral at or after the lifetime', () => {
    expect(nextAttempt({ attempts: 3, createdAt: 0, now: 432_000_000, random: 0 })).toEqual({ action: 'expire' });
  });

  it('is strictly after now, never past expiry, and the jitter stays within bounds', () => {
    fc.assert(
      fc.property(
        options,
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 2_000_000_000_000 }),
        fc.integer({ min: 0, max: 40 * 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (o, attempts, createdAt, age, random) => {
          const schedule = { ...o, maximalBackoffMs: o.minimalBackoffMs + o.extraBackoffMs };
          const now = createdAt + age;
          const expiresAt = createdAt + schedule.maximalLifetimeMs;
          const decision = nextAttempt({ attempts, createdAt, now, random }, schedule);
          if (now >= expiresAt) {
            expect(decision).toEqual({ action: 'expire' });
            return;
          }
          if (decision.action !== 'retry') throw new Error('expected a retry before expiry');
          expect(decision.at).toBeGreaterThan(now);
          expect(decision.at).toBeLessThanOrEqual(expiresAt);
          const backoff = Math.min(
            schedule.maximalBackoffMs,
            schedule.minimalBackoffMs * 2 ** Math.min(attempts - 1, 40),
          );
          if (decision.at < expiresAt) {
            const wait = decision.at - now;
            expect(wait).toBeLessThanOrEqual(backoff);
            expect(wait).toBeGreaterThanOrEqual(Math.max(1, Math.floor(backoff * (1 - schedule.jitter))) - 1);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives monotonic times over a run of deferrals that ends with expiry', () => {
    fc.assert(
      fc.property(
        runOptions,
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 }),
        (o, randoms) => {
          const schedule = { ...o, maximalBackoffMs: o.minimalBackoffMs + o.extraBackoffMs };
          const createdAt = 1_000_000;
          let now = createdAt;
          let attempts = 0;
          let previous = now;
          // Waits are at least half the minimal backoff (30 s) and the lifetime at most 2 days.
          for (let step = 0; step < 10_000; step += 1) {
            attempts += 1;
            const decision = nextAttempt(
              { attempts, createdAt, now, random: randoms[step % randoms.length] },
              schedule,
            );
            if (decision.action === 'expire') {
              expect(now).toBeGreaterThanOrEqual(createdAt + schedule.maximalLifetimeMs);
              return;
            }
            expect(decision.at).toBeGreaterThan(previous);
            previous = decision.at;
            now = decision.at;
          }
          throw new Error('never expired');
        },
      ),
      { numRuns: 300 },
    );
  });
});
