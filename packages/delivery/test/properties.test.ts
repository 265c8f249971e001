import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBounce, type DeliveryResolver, matchesMxPattern, resolveMailRoute } from '../src/index';

const text = fc.string({ unit: 'binary', maxLength: 300 });
const address = fc
  .tuple(fc.string({ minLength: 1, maxLength: 64 }), fc.domain())
  .map(([local, domain]) => `${local.replace(/[@\s]/g, 'x') || 'x'}@${domain}`);

describe('createBounce (property)', () => {
  it('writes only CRLF lines under 1000 octets, one Final-Recipient per recipient, and no injected fields', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            address,
            lines: fc.array(text, { minLength: 1, maxLength: 4 }),
            code: fc.integer({ min: 400, max: 599 }),
            diagnostic: text,
            remoteMta: fc.domain(),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        text,
        (recipients, original) => {
          const bounce = createBounce({
            reportingMta: 'mta.example.org',
            sender: 'a@example.org',
            originalMessage: original,
            recipients: recipients.map((r) => ({
              address: r.address,
              action: 'failed' as const,
              status: '5.0.0',
              remoteMta: r.remoteMta,
              reply: { code: r.code, lines: r.lines },
              diagnostic: r.diagnostic,
            })),
          })!;
          const wire = bounce.message.toString('latin1');
          expect(wire.endsWith('\r\n')).toBe(true);
          const lines = wire.slice(0, -2).split('\r\n');
          for (const line of lines) {
            expect(line).not.toMatch(/[\r\n]/);
            expect(Buffer.byteLength(line, 'latin1')).toBeLessThan(1000);
          }
          const boundary = /boundary="([^"]+)"/.exec(wire)![1]!;
          const statusPart = wire.split(`--${boundary}`)[2]!;
          const fields = statusPart
            .split('\r\n')
            .slice(3)
            .filter((line) => line !== '');
          for (const field of fields) {
            expect(field).toMatch(/^(Reporting-MTA|Final-Recipient|Action|Status|Remote-MTA|Diagnostic-Code): /);
          }
          expect(fields.filter((field) => field.startsWith('Final-Recipient:'))).toHaveLength(recipients.length);
          expect(fields.filter((field) => field.startsWith('Action:'))).toHaveLength(recipients.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('resolveMailRoute ordering (property)', () => {
  it('orders by preference, keeps every distinct host once, whatever the random source', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ exchange: fc.domain(), priority: fc.integer({ min: 0, max: 65535 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }),
        async (records, randoms) => {
          let index = 0;
          const resolver = {
            resolveMx: async () => ({ records, authenticated: false }),
          } as unknown as DeliveryResolver;
          const route = await resolveMailRoute('example.com', resolver, {
            random: () => randoms[index++ % randoms.length]!,
          });
          const preferences = route.exchangers.map((mx) => mx.preference);
          expect(preferences).toEqual([...preferences].sort((a, b) => a - b));
          const expected = new Set(records.map((r) => `${r.priority} ${r.exchange.toLowerCase()}`));
          const got = route.exchangers.map((mx) => `${mx.preference} ${mx.host}`);
          expect(new Set(got)).toEqual(expected);
          expect(got).toHaveLength(expected.size);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('matchesMxPattern (property)', () => {
  it('a wildcard matches exactly the names one label below its base', () => {
    fc.assert(
      fc.property(fc.domain(), fc.domain(), (base, name) => {
        const oneBelow = name.split('.')[0]!;
        expect(matchesMxPattern(`${oneBelow}.${base}`, `*.${base}`)).toBe(true);
        expect(matchesMxPattern(base, `*.${base}`)).toBe(false);
        expect(matchesMxPattern(`a.${oneBelow}.${base}`, `*.${base}`)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
