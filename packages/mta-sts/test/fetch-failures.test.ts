// What getMtaStsPolicy does with a fetcher's failures: a fetch or policy failure is a result, a bug is thrown.
import type { Resolver } from '@homing/dns';
import { describe, expect, it } from 'vitest';
import { getMtaStsPolicy, isMtaStsError, MtaStsError, type MtaStsFetcher } from '../src/index';

// Unit level: only the TXT lookup is used, so a resolver that answers it is enough.
const resolver = {
  resolveTxt: async () => ({ records: ['v=STSv1; id=1;'], ttl: 60 }),
} as unknown as Resolver;

const failing =
  (error: unknown): MtaStsFetcher =>
  async () => {
    throw error;
  };

describe('getMtaStsPolicy with a failing fetcher', () => {
  it('gives status error for an MtaStsError', async () => {
    const fetch = failing(new MtaStsError('MTA_STS_FETCH', 'connection refused'));
    const result = await getMtaStsPolicy('example.org', { resolver, fetch });
    expect(result).toMatchObject({ status: 'error', reason: 'connection refused' });
  });

  it("gives status error for a fetcher written against @homing/policy (PolicyError's MTA_STS_FETCH code)", async () => {
    const legacy = Object.assign(new Error('timed out'), { code: 'MTA_STS_FETCH', isHomingPolicyError: true });
    const result = await getMtaStsPolicy('example.org', { resolver, fetch: failing(legacy) });
    expect(result).toMatchObject({ status: 'error', reason: 'timed out' });
  });

  it('throws what is not a fetch failure (a bug in the fetcher)', async () => {
    const bug = new TypeError('fetcher is broken');
    await expect(getMtaStsPolicy('example.org', { resolver, fetch: failing(bug) })).rejects.toBe(bug);
  });

  it('recognises its error by flag and code, not instanceof', () => {
    const copy = Object.assign(new Error('x'), { isHomingMtaStsError: true, code: 'MTA_STS_POLICY' });
    expect(isMtaStsError(copy)).toBe(true);
    expect(isMtaStsError(copy, 'MTA_STS_FETCH')).toBe(false);
    expect(isMtaStsError(new Error('x'))).toBe(false);
  });
});
