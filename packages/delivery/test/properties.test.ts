import { type MtaStsPolicy, mtaStsAllowsMx } from '@homing/mta-sts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBounce, type DeliveryResolver, resolveMailRoute } from '../src/index';
import { requirementFor } from '../src/internal/tls-requirement';

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

const enforce = (mx: string[]): MtaStsPolicy => ({
  domain: 'example',
  id: '1',
  mode: 'enforce',
  mx,
  maxAge: 86400,
  fetchedAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
});

describe('MTA-STS MX matching (property)', () => {
  it("delivery requires authenticated TLS for exactly the MX hosts @homing/mta-sts's mtaStsAllowsMx allows", () => {
    const host = fc.oneof(fc.domain(), fc.constantFrom('MX.Example.com', ' mx.example.com', 'mx.bücher.example'));
    const pattern = fc.oneof(
      fc.domain(),
      fc.domain().map((base) => `*.${base}`),
      fc.constantFrom('MX.Example.com', '*.bücher.example', ' mx.example.com', '*.xn--bcher-kva.example'),
    );
    fc.assert(
      fc.property(host, fc.array(pattern, { minLength: 1, maxLength: 3 }), (name, mx) => {
        const policy = enforce(mx);
        expect(requirementFor(name, 'example', null, policy).verifyPkix).toBe(mtaStsAllowsMx(policy, name));
      }),
      { numRuns: 300 },
    );
  });
});
