// The official RFC 7208 suite (203 tests, no skip list) through the loopback DNS server of
// @homing/dns/testing and the real resolver: what CI relies on.
import { fileURLToPath } from 'node:url';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpf } from '../src/check-spf';
import { withTopLevels } from './helpers/loopback-zones';
import { loadSpfSuite } from './helpers/spf-suite';

const scenarios = loadSpfSuite(fileURLToPath(new URL('./fixtures/rfc7208-tests.yml', import.meta.url)));

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({ zones: {} });
});
afterAll(async () => {
  await server?.close();
});

describe('RFC 7208 official suite over the loopback DNS server', () => {
  it('has all 203 tests', () => {
    expect(scenarios.reduce((sum, scenario) => sum + scenario.tests.length, 0)).toBe(203);
  });

  for (const scenario of scenarios) {
    describe(scenario.description, () => {
      const helos = scenario.tests.map((test) => test.helo);
      beforeAll(() => server.setZones(withTopLevels(scenario.zones, helos)));
      for (const test of scenario.tests) {
        it(test.name, { timeout: 10_000 }, async () => {
          // A fresh resolver per test: the scenarios reuse names with different data. One try of
          // one second keeps the suite's TIMEOUT entries quick and leaves room on a loaded machine.
          const resolver = createResolver({ servers: [server.address], timeoutMs: 1000, tries: 1, cache: false });
          const outcome = await checkSpf(
            { ip: test.host, helo: test.helo, sender: test.mailfrom },
            { resolver, defaultExplanation: 'DEFAULT' },
          );
          expect(test.result, outcome.reason).toContain(outcome.result);
          if (test.explanation !== undefined) expect(outcome.explanation).toBe(test.explanation);
        });
      }
    });
  }
});
