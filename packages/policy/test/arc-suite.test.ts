// ValiMail's ARC validation suite through authenticate(), over the loopback DNS server. Three
// tests give an empty cv; their names (cv_fail_*) and descriptions say the chain fails, so an
// empty cv is read as fail.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../src/index';
import { loadArcSuite } from './helpers/arc-suite';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';

const scenarios = loadArcSuite(
  fileURLToPath(new URL('./fixtures/arc/arc-draft-validation-tests.yml', import.meta.url)),
);

let dns: LoopbackDns;
beforeAll(async () => {
  dns = await startLoopbackDns({});
});
afterAll(async () => {
  await dns?.server.close();
});

describe('ARC validation suite through authenticate()', () => {
  it('has the suite', () => {
    expect(scenarios.reduce((sum, scenario) => sum + scenario.tests.length, 0)).toBeGreaterThan(170);
  });

  for (const scenario of scenarios) {
    describe(scenario.description, () => {
      beforeAll(() => {
        const zones: Record<string, { TXT?: string[] }> = { 'example.org': {}, 'example.com': {}, example: {} };
        for (const [name, record] of Object.entries(scenario.txtRecords))
          zones[name] = { TXT: [record.replace(/\s+/g, '')] };
        dns.server.setZones(zones);
      });
      for (const test of scenario.tests) {
        it(test.name, { timeout: 10_000 }, async () => {
          const result = await authenticate(
            { ip: '192.0.2.1', helo: 'client.example', sender: '', message: test.message, hostname: 'mx.example.net' },
            { resolver: dns.resolver },
          );
          expect(result.arc.result, result.arc.reason).toBe(test.cv || 'fail');
          expect(result.header).toContain(`arc=${result.arc.result}`);
        });
      }
    });
  }
});
