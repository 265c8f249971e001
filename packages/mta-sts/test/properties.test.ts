// Property tests (fast-check) for the MTA-STS policy codec (RFC 8461 3.2).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMtaStsPolicy } from '../src/internal/mta-sts-parse';

describe('properties', () => {
  it('reads back any policy it could be given, whatever the line ends', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const host = fc
      .tuple(fc.boolean(), fc.array(label, { minLength: 2, maxLength: 4 }))
      .map(([wild, labels]) => `${wild ? '*.' : ''}${labels.join('.')}`);
    fc.assert(
      fc.property(
        fc.constantFrom('enforce', 'testing', 'none'),
        fc.array(host, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 31_557_600 }),
        fc.constantFrom('\n', '\r\n'),
        (mode, mx, maxAge, eol) => {
          const body = ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAge}`].join(
            eol,
          );
          expect(parseMtaStsPolicy(body + eol)).toEqual({ mode, mx, maxAge });
        },
      ),
    );
  });
});
