import { describe, expect, it } from 'vitest';
import { TlsReportCounters } from '../src/index';

describe('TlsReportCounters', () => {
  it('counts successes and failures per domain and policy type, by result type', () => {
    const counters = new TlsReportCounters();
    counters.record('example.com', 'sts', 'success', 'mx1.example.com');
    counters.record('example.com', 'sts', 'certificate-not-trusted', 'mx1.example.com');
    counters.record('example.com', 'sts', 'certificate-not-trusted', 'mx2.example.com');
    counters.record('example.net', 'tlsa', 'tlsa-invalid', 'mx.example.net');
    const snapshot = counters.snapshot();
    expect(snapshot).toEqual([
      {
        domain: 'example.com',
        policyType: 'sts',
        successful: 1,
        failed: 2,
        failures: [{ resultType: 'certificate-not-trusted', count: 2, receivingMx: 'mx2.example.com' }],
      },
      {
        domain: 'example.net',
        policyType: 'tlsa',
        successful: 0,
        failed: 1,
        failures: [{ resultType: 'tlsa-invalid', count: 1, receivingMx: 'mx.example.net' }],
      },
    ]);
  });

  it('hands out copies that later records do not change', () => {
    const counters = new TlsReportCounters();
    counters.record('example.com', 'no-policy-found', 'starttls-not-supported', 'mx');
    const before = counters.snapshot();
    counters.record('example.com', 'no-policy-found', 'starttls-not-supported', 'mx');
    expect(before[0]!.failures[0]!.count).toBe(1);
    expect(counters.snapshot()[0]!.failures[0]!.count).toBe(2);
  });
});
