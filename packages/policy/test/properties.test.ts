// Property tests (fast-check) for the small codecs: IP addresses, CIDR matching, MTA-STS policies.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inNetwork, tryParseIp } from '../src/internal/ip-address';
import { parseMtaStsPolicy } from '../src/internal/mta-sts-parse';

const toBigInt = (bytes: Uint8Array) => bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);

describe('properties', () => {
  it('formats IPv6 addresses as RFC 5952 does (Node URL as the oracle) and parses them back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 7 }), (bytes, zeros) => {
        bytes.fill(0, zeros * 2, zeros * 2 + 4); // make runs of zero groups common
        const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
        const parsed = tryParseIp(groups.join(':'));
        if (!parsed) return false;
        if (parsed.family === 4) return true; // IPv4-mapped: unwrapped on purpose
        expect(parsed.text).toBe(new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1));
        expect(tryParseIp(parsed.text)?.bytes).toEqual(parsed.bytes);
        return true;
      }),
    );
  });

  it('matches a CIDR network exactly when the leading bits agree', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 128 }),
        (a, b, prefix) => {
          const address = { family: 6 as const, bytes: a, text: '' };
          const network = { family: 6 as const, bytes: b, text: '' };
          const shift = BigInt(128 - prefix);
          const expected = toBigInt(a) >> shift === toBigInt(b) >> shift;
          expect(inNetwork(address, network, prefix)).toBe(expected);
        },
      ),
    );
  });

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
