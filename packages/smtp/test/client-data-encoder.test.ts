import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireSize } from '../src/client/message-source';
import { DataEncoder, encodeData, formatBdatCommand } from '../src/core/data-encoder';

const text = (buffer: Buffer) => buffer.toString('latin1');

function encodeInPieces(input: Buffer, cuts: number[], mode: 'data' | 'bdat' = 'data'): Buffer {
  const encoder = new DataEncoder(mode);
  const out: Buffer[] = [];
  let from = 0;
  for (const point of [...cuts, input.length]) {
    out.push(encoder.encode(input.subarray(from, point)));
    from = point;
  }
  out.push(encoder.end());
  return Buffer.concat(out);
}

/** What any receiver does (RFC 5321 4.5.2): split at CRLF, stop at ".", drop one leading dot. */
function unstuff(wire: Buffer): Buffer {
  const lines = text(wire).split('\r\n');
  const body: string[] = [];
  for (const line of lines) {
    if (line === '.') break;
    body.push(line.startsWith('.') ? line.slice(1) : line);
  }
  return Buffer.from(`${body.join('\r\n')}\r\n`, 'latin1');
}

/** The input with every bare LF and bare CR made CRLF, and a final CRLF when missing. */
function normalise(input: Buffer): Buffer {
  let s = text(input).replace(/\r\n|\r|\n/g, '\r\n');
  if (s.length > 0 && !s.endsWith('\r\n')) s += '\r\n';
  return Buffer.from(s, 'latin1');
}

describe('DataEncoder in DATA mode', () => {
  it('doubles a dot at the start of any line, including the first', () => {
    expect(text(encodeData('.hidden\r\nok\r\n..two\r\n'))).toBe('..hidden\r\nok\r\n...two\r\n.\r\n');
  });

  it('leaves dots elsewhere in a line alone', () => {
    expect(text(encodeData('a.b\r\nend.\r\n'))).toBe('a.b\r\nend.\r\n.\r\n');
  });

  it('turns bare LF and bare CR into CRLF so no bare line ending reaches the server', () => {
    expect(text(encodeData('a\nb\rc\r\nd'))).toBe('a\r\nb\r\nc\r\nd\r\n.\r\n');
  });

  it('stuffs a dot after a bare LF, so LF.LF can never end the data early (smuggling)', () => {
    expect(text(encodeData('a\n.\nMAIL FROM:<x@y>\n'))).toBe('a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n');
  });

  it('adds the missing final CRLF before the terminator', () => {
    expect(text(encodeData('no newline'))).toBe('no newline\r\n.\r\n');
    expect(text(encodeData('ends with newline\r\n'))).toBe('ends with newline\r\n.\r\n');
  });

  it('sends only the terminator for an empty message', () => {
    expect(text(encodeData(''))).toBe('.\r\n');
  });

  it('handles a CR at the end of one chunk and its LF at the start of the next', () => {
    const encoder = new DataEncoder();
    const out = Buffer.concat([encoder.encode(Buffer.from('a\r')), encoder.encode(Buffer.from('\n.b')), encoder.end()]);
    expect(text(out)).toBe('a\r\n..b\r\n.\r\n');
  });

  it('counts input octets and notices 8-bit content', () => {
    const encoder = new DataEncoder();
    encoder.encode(Buffer.from('plain\n'));
    expect(encoder.eightBit).toBe(false);
    encoder.encode(Buffer.from('Grüße\n'));
    expect(encoder.eightBit).toBe(true);
    expect(encoder.bytesIn).toBe(6 + Buffer.byteLength('Grüße\n'));
  });

  it('refuses to encode after end()', () => {
    const encoder = new DataEncoder();
    encoder.end();
    expect(() => encoder.encode(Buffer.from('x'))).toThrow(/after end/);
  });
});

describe('DataEncoder in BDAT mode', () => {
  it('normalises line endings without stuffing dots or adding a terminator', () => {
    expect(text(encodeData('.a\n.\rb', 'bdat'))).toBe('.a\r\n.\r\nb\r\n');
    expect(text(encodeData('', 'bdat'))).toBe('');
  });

  it('frames chunks as BDAT commands (RFC 3030)', () => {
    expect(text(formatBdatCommand(1024, false))).toBe('BDAT 1024\r\n');
    expect(text(formatBdatCommand(0, true))).toBe('BDAT 0 LAST\r\n');
  });
});

describe('DataEncoder properties', () => {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
    fc
      .array(fc.constantFrom('.', '\r', '\n', '\r\n', 'a', 'MAIL', ' ', '\u00e9'), { maxLength: 80 })
      .map((parts) => Buffer.from(parts.join(''), 'utf8')),
  );
  const cutsFor = (length: number) =>
    fc.array(fc.integer({ min: 0, max: length }), { maxLength: 10 }).map((c) => [...new Set(c)].sort((a, b) => a - b));

  it('gives the same bytes for any split of the input', () => {
    fc.assert(
      fc.property(
        body.chain((input) => fc.tuple(fc.constant(input), cutsFor(input.length))),
        ([input, cuts]) => {
          expect(encodeInPieces(input, cuts)).toEqual(encodeData(input));
          expect(encodeInPieces(input, cuts, 'bdat')).toEqual(encodeData(input, 'bdat'));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips through a receiver to the input with CRLF line endings', () => {
    fc.assert(
      fc.property(body, (input) => {
        const wire = encodeData(input);
        const expected = normalise(input);
        expect(unstuff(wire)).toEqual(expected.length === 0 ? Buffer.from('\r\n') : expected);
        expect(encodeData(input, 'bdat')).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('never puts a bare CR or LF on the wire, and ends exactly once with CRLF.CRLF', () => {
    fc.assert(
      fc.property(body, (input) => {
        const wire = text(encodeData(input));
        expect(wire.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
        const lines = wire.split('\r\n');
        expect(lines.at(-1)).toBe('');
        expect(lines.at(-2)).toBe('.');
        expect(lines.slice(0, -2).includes('.')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('wireSize', () => {
  it('is the length of the body as the encoder puts it on the wire, before dot-stuffing', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom('.', '\r', '\n', '\r\n', 'a', ' ', '\u00e9'), { maxLength: 60 })
          .map((parts) => Buffer.from(parts.join(''), 'utf8')),
        (input) => {
          expect(wireSize(input)).toBe(encodeData(input, 'bdat').length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
