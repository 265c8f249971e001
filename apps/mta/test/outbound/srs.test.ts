import { describe, expect, it } from 'vitest';
import { createSrs } from '../../src/server/outbound/srs';

// SRS0 rewriting of forwarded senders: reversible by us only, within 21 days.

const DAY = 86_400_000;
const secret = Buffer.from('a secret of at least thirty-two characters');

describe('createSrs', () => {
  it('rewrites a sender into our domain and reads it back, the hash case-insensitively', () => {
    const srs = createSrs(secret, () => 1000 * DAY);
    const rewritten = srs.forward('Alice.B@Sender.test', 'example.org');
    expect(rewritten).toMatch(/^SRS0=[a-z2-7]{4}=[a-z2-7]{2}=Sender\.test=Alice\.B@example\.org$/);
    expect(srs.reverse(rewritten)).toBe('Alice.B@Sender.test');
    expect(srs.reverse(rewritten.replace(/^SRS0=(....)/, (_, h: string) => `SRS0=${h.toUpperCase()}`))).toBe(
      'Alice.B@Sender.test',
    );
  });

  it('keeps the null sender null', () => {
    expect(createSrs(secret).forward('', 'example.org')).toBe('');
  });

  it('refuses a changed address, another secret, and an address older than 21 days', () => {
    let now = 1000 * DAY;
    const srs = createSrs(secret, () => now);
    const rewritten = srs.forward('alice@sender.test', 'example.org');
    expect(srs.reverse(rewritten.replace('=alice@', '=mallory@'))).toBeUndefined();
    expect(
      createSrs(Buffer.from('another secret, also long enough to use'), () => now).reverse(rewritten),
    ).toBeUndefined();
    now += 21 * DAY;
    expect(srs.reverse(rewritten)).toBe('alice@sender.test');
    now += DAY;
    expect(srs.reverse(rewritten)).toBeUndefined();
    expect(srs.reverse('alice@example.org')).toBeUndefined();
  });
});
