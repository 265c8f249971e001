import { describe, expect, it } from 'vitest';
import { ReflectorRateLimit } from '../../src/server/reflector/reflector-rate-limit';

describe('the reflector rate limit', () => {
  it('allows so many reports an hour per sender, then says for how long to wait', () => {
    let now = 0;
    const limit = new ReflectorRateLimit({ perSender: 2, perClient: 100 }, () => now);
    expect(limit.take('a@example.org', '192.0.2.1')).toEqual({ ok: true });
    now = 10 * 60_000;
    expect(limit.take('A@example.org', '192.0.2.2')).toEqual({ ok: true });
    expect(limit.take('a@example.org', '192.0.2.3')).toEqual({ ok: false, key: 'sender', retryAfterMs: 50 * 60_000 });
    expect(limit.take('b@example.org', '192.0.2.1')).toEqual({ ok: true });
    now = 60 * 60_000 + 1;
    expect(limit.take('a@example.org', '192.0.2.1')).toEqual({ ok: true });
  });

  it('limits a client address across senders', () => {
    const limit = new ReflectorRateLimit({ perSender: 100, perClient: 2 }, () => 0);
    expect(limit.take('a@example.org', '2001:db8::1').ok).toBe(true);
    expect(limit.take('b@example.org', '2001:db8::1').ok).toBe(true);
    expect(limit.take('c@example.org', '2001:db8::1')).toMatchObject({ ok: false, key: 'client' });
  });
});
