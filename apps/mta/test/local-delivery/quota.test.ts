import { describe, expect, it } from 'vitest';
import { createQuotaCheck } from '../../src/server/local-delivery/quota';

const store = (bytes: number) => ({ usage: async () => bytes });

describe('the quota check', () => {
  it('says over quota at RCPT once a mailbox holds its quota', async () => {
    expect(await createQuotaCheck({ store: store(999), quota: 1000 }).overQuota('a@example.org')).toBe(false);
    expect(await createQuotaCheck({ store: store(1000), quota: 1000 }).overQuota('a@example.org')).toBe(true);
  });

  it('says a message would exceed it when usage plus its size passes the quota', async () => {
    const check = createQuotaCheck({ store: store(900), quota: 1000 });
    expect(await check.wouldExceed('a@example.org', 100)).toBe(false);
    expect(await check.wouldExceed('a@example.org', 101)).toBe(true);
  });

  it('never refuses without a quota, and reads the current quota of a reloaded config', async () => {
    expect(await createQuotaCheck({ store: store(10 ** 12), quota: undefined }).overQuota('a@example.org')).toBe(false);
    let quota: number | undefined = 10;
    const check = createQuotaCheck({ store: store(50), quota: () => quota });
    expect(await check.overQuota('a@example.org')).toBe(true);
    quota = 100;
    expect(await check.overQuota('a@example.org')).toBe(false);
  });
});
