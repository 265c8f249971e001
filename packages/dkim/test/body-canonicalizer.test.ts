import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BodyCanonicalization, BodyCanonicalizer } from '../src/internal/body-canonicalizer';
import { byteByByte, canonicalizeInChunks, referenceBody, splitAt } from './helpers';

const modes: BodyCanonicalization[] = ['simple', 'relaxed'];
// Bytes that matter to canonicalization, plus plain text and 8-bit bytes (0xA0 is not whitespace).
const bodyBytes = fc
  .array(fc.constantFrom(' ', '\t', '\r', '\n', '\r\n', 'a', 'bc', '  ', ' \r\n', '\xe9', '\xa0', 'xyz '), {
    maxLength: 60,
  })
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

const cases: [string, string, string, string][] = [
  // [name, input, simple, relaxed]
  ['an empty body', '', '\r\n', ''],
  ['only empty lines', '\r\n\r\n\r\n', '\r\n', ''],
  ['a body without a final CRLF', 'Hello\r\nworld', 'Hello\r\nworld\r\n', 'Hello\r\nworld\r\n'],
  ['trailing empty lines', 'a\r\n\r\n\r\n', 'a\r\n', 'a\r\n'],
  ['inner empty lines', 'a\r\n\r\nb\r\n', 'a\r\n\r\nb\r\n', 'a\r\n\r\nb\r\n'],
  ['runs of whitespace', 'a \t  b\t\r\n', 'a \t  b\t\r\n', 'a b\r\n'],
  ['whitespace-only lines at the end', 'a\r\n  \r\n\t\r\n', 'a\r\n  \r\n\t\r\n', 'a\r\n'],
  ['leading whitespace', '  a\r\n', '  a\r\n', ' a\r\n'],
  ['bare LF line ends', 'a\nb \n\n', 'a\r\nb \r\n', 'a\r\nb\r\n'],
  ['a bare CR inside a line', 'a\rb\r\n', 'a\rb\r\n', 'a\rb\r\n'],
  ['trailing whitespace without a final CRLF', 'a  ', 'a  \r\n', 'a\r\n'],
];

describe('body canonicalization (RFC 6376 3.4.3, 3.4.4)', () => {
  for (const [name, input, simple, relaxed] of cases) {
    it(`gives the RFC result for ${name}`, () => {
      const bytes = Buffer.from(input, 'latin1');
      expect(canonicalizeInChunks([bytes], 'simple').toString('latin1')).toBe(simple);
      expect(canonicalizeInChunks([bytes], 'relaxed').toString('latin1')).toBe(relaxed);
      expect(canonicalizeInChunks(byteByByte(bytes), 'simple').toString('latin1')).toBe(simple);
      expect(canonicalizeInChunks(byteByByte(bytes), 'relaxed').toString('latin1')).toBe(relaxed);
    });
  }

  for (const mode of modes) {
    it(`${mode}: matches the whole-buffer reference for any body, fed whole, byte by byte and in random chunks`, () => {
      fc.assert(
        fc.property(bodyBytes, fc.array(fc.nat(80), { maxLength: 8 }), (bytes, cuts) => {
          const expected = referenceBody(bytes, mode);
          expect(canonicalizeInChunks([bytes], mode)).toEqual(expected);
          expect(canonicalizeInChunks(byteByByte(bytes), mode)).toEqual(expected);
          expect(canonicalizeInChunks(splitAt(bytes, cuts), mode)).toEqual(expected);
        }),
        { numRuns: 600 },
      );
    });
  }

  it('passes clean stretches through as slices of the input, without copying them', () => {
    const line = Buffer.from('The quick brown fox jumps over the lazy dog.\r\n');
    const body = Buffer.concat(Array.from({ length: 200 }, () => line));
    const slices: Buffer[] = [];
    const canonicalizer = new BodyCanonicalizer('relaxed', (bytes) => slices.push(bytes));
    canonicalizer.write(body);
    expect(slices[0]!.buffer).toBe(body.buffer);
    expect(slices[0]!.length).toBe(body.length - 2);
  });

  it('handles a long body with many special spots across 64 KiB chunks', () => {
    const parts: string[] = [];
    for (let i = 0; i < 5000; i++)
      parts.push(i % 7 === 0 ? `line ${i}\t \r\n` : i % 11 === 0 ? '\n\n' : `line  ${i}\r\n`);
    const bytes = Buffer.from(parts.join(''), 'latin1');
    const chunks = splitAt(
      bytes,
      Array.from({ length: Math.floor(bytes.length / 65536) }, (_, i) => (i + 1) * 65536),
    );
    for (const mode of modes) expect(canonicalizeInChunks(chunks, mode)).toEqual(referenceBody(bytes, mode));
  });
});
