import { type MtaStsPolicy, mtaStsAllowsMx } from '@homing/mta-sts';
import { describe, expect, it } from 'vitest';
import { requirementFor } from '../src/internal/tls-requirement';

// Delivery enforces MTA-STS with @homing/mta-sts's matching (one implementation per rule): these
// are the cases where delivery's own copy used to disagree with policy's (review 2026-12 §2.4).
const policy = (mode: MtaStsPolicy['mode'], mx: string[]): MtaStsPolicy => ({
  domain: 'example.com',
  id: '20261201',
  mode,
  mx,
  maxAge: 86400,
  fetchedAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
});

/** Whether delivery would require authenticated TLS to `host`, i.e. treat it as a listed MX. */
const enforced = (mx: string[], host: string) => requirementFor(host, 'example.com', null, policy('enforce', mx));

describe("MTA-STS MX matching is @homing/mta-sts's", () => {
  it.each([
    [['MX.Example.com'], 'mx.example.com'],
    [['*.bücher.example'], 'mx.xn--bcher-kva.example'],
    [[' mx.example.com'], 'mx.example.com'],
    [['mx.example.com'], 'mx.example.com'],
    [['*.example.com'], 'mx1.example.com'],
    [['*.example.com'], 'a.b.example.com'],
  ])('policy %j and MX %s: delivery decides as mtaStsAllowsMx', (mx, host) => {
    const allowed = mtaStsAllowsMx(policy('enforce', mx), host);
    expect(enforced(mx, host)).toMatchObject({ policyType: 'sts', required: allowed, verifyPkix: allowed });
  });

  it("the three old disagreements now give policy's answer: not a listed MX", () => {
    expect(enforced(['MX.Example.com'], 'mx.example.com').verifyPkix).toBe(false);
    expect(enforced(['*.bücher.example'], 'mx.xn--bcher-kva.example').verifyPkix).toBe(false);
    expect(enforced([' mx.example.com'], 'mx.example.com').verifyPkix).toBe(false);
  });

  it('testing and none never require TLS', () => {
    expect(requirementFor('mx.example.com', 'example.com', null, policy('testing', ['mx.example.com']))).toMatchObject({
      policyType: 'sts',
      required: false,
    });
    expect(requirementFor('mx.example.com', 'example.com', null, policy('none', []))).toMatchObject({
      policyType: 'no-policy-found',
      required: false,
    });
  });
});
