// The official RFC 7208 test suite (pyspf's rfc7208-tests.yml, 203 tests), run with no skip
// list against the in-memory resolver. spf-suite-dns.test.ts runs it again over the loopback
// DNS server and the real resolver.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkSpf } from '../src/check-spf';
import { createMemoryResolver } from './helpers/memory-resolver';
import { loadSpfSuite } from './helpers/spf-suite';

const scenarios = loadSpfSuite(fileURLToPath(new URL('./fixtures/rfc7208-tests.yml', import.meta.url)));

describe('RFC 7208 official suite (in-memory DNS)', () => {
  it('has all 203 tests', () => {
    expect(scenarios.reduce((sum, scenario) => sum + scenario.tests.length, 0)).toBe(203);
  });

  for (const scenario of scenarios) {
    describe(scenario.description, () => {
      for (const test of scenario.tests) {
        it(test.name, async () => {
          const resolver = createMemoryResolver(scenario.zones);
          const outcome = await checkSpf(
            { ip: test.host, helo: test.helo, sender: test.mailfrom },
            { resolver, defaultExplanation: 'DEFAULT' },
          );
          expect(test.result, `${outcome.reason}`).toContain(outcome.result);
          if (test.explanation !== undefined) expect(outcome.explanation).toBe(test.explanation);
        });
      }
    });
  }
});
