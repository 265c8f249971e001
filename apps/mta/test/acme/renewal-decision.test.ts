import { describe, expect, it } from 'vitest';
import { certificateNames, decideRenewal } from '../../src/server/acme/renewal-decision';

const DAY = 86_400_000;
const now = Date.parse('2026-12-01T00:00:00Z');
const wanted = ['mx.example.org', 'mta-sts.example.org'];
const good = { names: wanted, notAfterMs: now + 60 * DAY, standIn: false };

describe('when the server asks the CA for a certificate', () => {
  it('names the host and mta-sts.DOMAIN of each domain, once each', () => {
    expect(certificateNames('MX.example.org', ['example.org', 'example.net', 'example.org'])).toEqual([
      'mx.example.org',
      'mta-sts.example.org',
      'mta-sts.example.net',
    ]);
  });

  it('keeps a certificate with more than renew_before left, until renew_before is reached', () => {
    expect(decideRenewal({ stored: good, wanted, nowMs: now, renewBeforeMs: 30 * DAY })).toEqual({
      action: 'keep',
      renewAtMs: now + 30 * DAY,
    });
  });

  it('renews one with less than renew_before left', () => {
    const expiring = { ...good, notAfterMs: now + 29 * DAY };
    expect(decideRenewal({ stored: expiring, wanted, nowMs: now, renewBeforeMs: 30 * DAY })).toEqual({
      action: 'issue',
      reason: 'expiring',
    });
  });

  it('issues when there is none, when only the stand-in is there, or when a name is missing', () => {
    const decide = (stored: typeof good | undefined, names = wanted) =>
      decideRenewal({ stored, wanted: names, nowMs: now, renewBeforeMs: 30 * DAY });
    expect(decide(undefined)).toEqual({ action: 'issue', reason: 'missing' });
    expect(decide({ ...good, standIn: true })).toEqual({ action: 'issue', reason: 'stand-in' });
    expect(decide(good, [...wanted, 'mta-sts.example.net'])).toEqual({ action: 'issue', reason: 'names' });
  });

  it('issues on a forced renewal even when nothing is due', () => {
    expect(decideRenewal({ stored: good, wanted, nowMs: now, renewBeforeMs: 30 * DAY, forced: true })).toEqual({
      action: 'issue',
      reason: 'forced',
    });
  });
});
