// Property tests (fast-check) for the small codecs: IP addresses and CIDR matching (MTA-STS policies: @homing/mta-sts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inNetwork, tryParseIp } from '../src/internal/ip-address';

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
});
