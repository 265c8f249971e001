import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, isDnsError } from '../src/index';
import { type DnsServer, startDnsServer } from '../src/testing';

// Labels of printable ASCII other than the dot (which separates labels in a name string).
// Line terminators too: dns-packet's name encoder mishandles a dot beside one, so both ends work around it.
const label = fc.string({
  unit: fc.constantFrom(
    '\n',
    '\r',
    '\u2028',
    '\t',
    '\u00e9',
    ...' !"#$%&\'()*+,-/0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~',
  ),
  minLength: 1,
  maxLength: 63,
});

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({ zones: { 'example.com': { A: ['127.0.0.1'] } } });
});
afterAll(async () => {
  await server.close();
});

describe('names, property-tested', () => {
  it('any name of valid labels reaches the server intact and comes back as the answer for that name', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false, timeoutMs: 3000 });
    await fc.assert(
      fc.asyncProperty(fc.array(label, { minLength: 1, maxLength: 3 }), async (labels) => {
        const name = `${labels.join('.')}.example.com`;
        server.setZones({ 'example.com': { A: ['127.0.0.1'] }, [name]: { TXT: [name] } });
        const answer = await resolver.resolveTxt(name);
        expect(answer.records).toEqual([name]);
        expect(server.queries.at(-1)?.name).toBe(name);
      }),
      { numRuns: 60 },
    );
  });

  it('any string either resolves, fails with a DnsError, or is refused as BADNAME — never anything else', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false, timeoutMs: 3000 });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (name) => {
        const outcome = await resolver.resolveA(name).then(
          () => 'answer',
          (error: unknown) => (isDnsError(error) ? error.code : `not a DnsError: ${String(error)}`),
        );
        expect(['answer', 'NXDOMAIN', 'NODATA', 'REFUSED', 'BADNAME']).toContain(outcome);
      }),
      { numRuns: 100 },
    );
  });
});

describe('the question encoder', () => {
  it('writes the same octets as dns-packet for every name dns-packet handles', async () => {
    const packet = await import('dns-packet');
    const { encodeQuery } = await import('../src/internal/wire-name');
    const plainLabel = fc.string({ unit: fc.constantFrom(...'ab-_ @%\u00e9Z'), minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(
        fc.array(plainLabel, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'TLSA'),
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom(0, 512, 1232, 4096),
        (labels, type, id, edns) => {
          const name = labels.join('.');
          const ours = encodeQuery(id, name, type, edns);
          const theirs = packet.encode({
            type: 'query',
            id,
            flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
            questions: [{ type: type as 'A', name, class: 'IN' }],
            additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: edns } as never] : [],
          });
          expect(ours.equals(theirs)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
