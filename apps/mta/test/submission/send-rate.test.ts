import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../src/config/config-error';
import { parseRate } from '../../src/config/config-values';
import { minimalExample, parseConfig } from '../../src/config/load-config';
import { SendRateLimiter } from '../../src/server/submission/send-rate';
import { type ConfigFixtures, makeFixtures } from '../config/config-fixtures';

const rate = { count: 3, windowMs: 3_600_000, text: '3/h' };

function limiter() {
  let now = 1_000_000;
  return { l: new SendRateLimiter({ now: () => now }), advance: (ms: number) => (now += ms) };
}

describe('SendRateLimiter', () => {
  /** Takes a place and keeps it at once (a message accepted). */
  const send = (l: SendRateLimiter, user: string, r = rate) => {
    const advice = l.reserve(user, r);
    if (advice.allowed) advice.reservation.commit();
    return advice;
  };

  it('allows count messages per window, then refuses until the oldest leaves the window', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 3; i++) {
      expect(send(l, 'alice@example.org')).toMatchObject({ allowed: true });
      advance(10 * 60_000);
    }
    // Messages at 0, 10 and 20 minutes; now 30 minutes: the first leaves at 60.
    expect(l.reserve('alice@example.org', rate)).toEqual({ allowed: false, retryAfterMs: 30 * 60_000 });
    expect(l.reserve('bob@example.org', rate)).toMatchObject({ allowed: true });
    advance(30 * 60_000);
    expect(send(l, 'alice@example.org')).toMatchObject({ allowed: true });
    expect(l.reserve('alice@example.org', rate)).toMatchObject({ allowed: false, retryAfterMs: 10 * 60_000 });
  });

  it('counts places under way: concurrent transactions never pass the check together', () => {
    const { l } = limiter();
    const taken = Array.from({ length: 10 }, () => l.reserve('alice@example.org', rate));
    expect(taken.filter((a) => a.allowed).length).toBe(3);
    // With the three places under way and none accepted yet, a retry is a whole window away.
    expect(taken[3]).toEqual({ allowed: false, retryAfterMs: rate.windowMs });
  });

  it('gives a released place back, and keeps a committed one', () => {
    const { l } = limiter();
    const first = l.reserve('alice@example.org', rate);
    const second = l.reserve('alice@example.org', rate);
    const third = l.reserve('alice@example.org', rate);
    if (!first.allowed || !second.allowed || !third.allowed) throw new Error('expected three places');
    expect(l.reserve('alice@example.org', rate).allowed).toBe(false);
    first.reservation.release();
    second.reservation.commit();
    // Settling twice changes nothing.
    first.reservation.release();
    first.reservation.commit();
    second.reservation.commit();
    const fourth = l.reserve('alice@example.org', rate);
    expect(fourth.allowed).toBe(true);
    expect(l.reserve('alice@example.org', rate).allowed).toBe(false);
  });

  it('never lets a place under way age out of the window', () => {
    const { l, advance } = limiter();
    const held = Array.from({ length: 3 }, () => l.reserve('alice@example.org', rate));
    advance(2 * rate.windowMs);
    expect(l.reserve('alice@example.org', rate).allowed).toBe(false);
    for (const advice of held) if (advice.allowed) advice.reservation.commit();
    // Accepted now: they count for the window from now.
    advance(rate.windowMs - 1);
    expect(l.reserve('alice@example.org', rate).allowed).toBe(false);
    advance(1);
    expect(l.reserve('alice@example.org', rate).allowed).toBe(true);
  });

  it('applies a lowered limit (reload) at once', () => {
    const { l } = limiter();
    for (let i = 0; i < 3; i++) send(l, 'alice@example.org');
    expect(l.reserve('alice@example.org', { count: 1, windowMs: 60_000, text: '1/m' })).toMatchObject({
      allowed: false,
    });
    expect(l.reserve('alice@example.org', { count: 4, windowMs: 3_600_000, text: '4/h' })).toMatchObject({
      allowed: true,
    });
  });
});

describe('limits.send_rate', () => {
  let fx: ConfigFixtures;
  beforeAll(async () => {
    fx = await makeFixtures();
  });
  afterAll(() => fx.remove());
  const minimal = () =>
    minimalExample
      .replace('/etc/homing/cert.pem', fx.cert)
      .replace('/etc/homing/key.pem', fx.key)
      .replace('/etc/homing/users', fx.users);

  it('reads 100/h, 500/10m, 5/s and 1000/d', () => {
    expect(parseRate('100/h', '100/h')).toEqual({
      ok: true,
      value: { count: 100, windowMs: 3_600_000, text: '100/h' },
    });
    expect(parseRate('500/10m', '100/h')).toMatchObject({ value: { count: 500, windowMs: 600_000 } });
    expect(parseRate('5/s', '100/h')).toMatchObject({ value: { windowMs: 1000 } });
    expect(parseRate('1000/d', '100/h')).toMatchObject({ value: { windowMs: 86_400_000 } });
  });

  it('is off by default and set from the YAML', async () => {
    expect((await parseConfig(minimal(), 'homing.yml')).limits.sendRate).toBeUndefined();
    const config = await parseConfig(`${minimal()}\nlimits:\n  send_rate: 100/h\n`, 'homing.yml');
    expect(config.limits.sendRate).toEqual({ count: 100, windowMs: 3_600_000, text: '100/h' });
  });

  it('refuses a rate that is not one, with the line and an example', async () => {
    for (const bad of ['100', '0/h', '5/00m', '100/week', 'lots']) {
      const error = await parseConfig(`${minimal()}\nlimits:\n  send_rate: ${bad}\n`, 'homing.yml').catch(
        (e: unknown) => e,
      );
      expect(isConfigError(error)).toBe(true);
      expect((error as Error).message).toMatch(/homing\.yml:\d+:\d+.*send_rate.*not a rate.*e\.g\. 100\/h/s);
    }
  });
});
