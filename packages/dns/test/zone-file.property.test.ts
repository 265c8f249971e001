import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseZoneFile, type Zones } from '../src/testing';

// Labels and TXT strings that exercise escaping: quotes, backslashes, semicolons, parentheses, spaces.
const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
const txtString = fc.string({ unit: fc.constantFrom(...'ab c;"\\()=@%é'), maxLength: 40 });
const ipv4 = fc.ipV4();
const entry = fc.record(
  {
    A: fc.array(ipv4, { minLength: 1, maxLength: 3 }),
    MX: fc.array(fc.record({ priority: fc.integer({ min: 0, max: 65535 }), exchange: fc.constant('mx.example.net') }), {
      minLength: 1,
      maxLength: 2,
    }),
    TXT: fc.array(fc.array(txtString, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 }),
    ttl: fc.integer({ min: 0, max: 0x7fffffff }),
  },
  { requiredKeys: ['ttl'] },
);
const zones = fc.dictionary(label, entry, { minKeys: 1, maxKeys: 5 });

/** Writes zones as a master file, every name relative to $ORIGIN, with a blank-owner line for each extra record. */
function render(input: Record<string, Record<string, unknown>>): string {
  const quote = (text: string) => `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
  const lines = ['$ORIGIN example.com.'];
  for (const [name, data] of Object.entries(input)) {
    const ttl = data.ttl as number;
    const records: string[] = [];
    for (const a of (data.A as string[] | undefined) ?? []) records.push(`A ${a}`);
    for (const mx of (data.MX as { priority: number; exchange: string }[] | undefined) ?? []) {
      records.push(`MX ( ${mx.priority} ; preference\n  ${mx.exchange}. )`);
    }
    for (const txt of (data.TXT as string[][] | undefined) ?? []) records.push(`TXT ${txt.map(quote).join(' ')}`);
    if (records.length === 0) records.push('A 192.0.2.1');
    for (const [index, record] of records.entries()) lines.push(`${index === 0 ? name : ''}\t${ttl} IN ${record}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('zone files, property-tested', () => {
  it('parse back to the zones they were written from', () => {
    fc.assert(
      fc.property(zones, (input) => {
        const parsed = parseZoneFile(render(input));
        const expected: Zones = {};
        for (const [name, data] of Object.entries(input)) {
          const { ttl, ...records } = data;
          expected[`${name}.example.com`] =
            Object.keys(records).length > 0 ? { ...records, ttl } : { A: ['192.0.2.1'], ttl };
        }
        expect(parsed).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('either parse or fail with a ZoneFileError on any text, never anything else', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'$ORIGIN TXT A MX @ . ( ) ; " \\ \n 1 2 3 a b example.com'.split(' ')) }),
        (text) => {
          try {
            parseZoneFile(text, { origin: 'example.com' });
          } catch (error) {
            expect((error as { code?: string }).code).toBe('BADZONE');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
