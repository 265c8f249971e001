import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeaderBlockReader, parseHeaderFields } from '../src/internal/header-block';
import { splitAt } from './helpers';

/** Feeds `chunks` and returns [header, body] as latin1 strings ('' body and the whole input as header when no end is seen). */
function read(chunks: Buffer[], max = 1 << 20): [string, string] {
  const reader = new HeaderBlockReader(max);
  for (let i = 0; i < chunks.length; i++) {
    const done = reader.write(chunks[i]!);
    if (done)
      return [done.header.toString('latin1'), Buffer.concat([...done.body, ...chunks.slice(i + 1)]).toString('latin1')];
  }
  return [reader.finish().toString('latin1'), ''];
}

describe('HeaderBlockReader', () => {
  it('finds the empty line after CRLF or LF header lines, or at the very start', () => {
    expect(read([Buffer.from('A: 1\r\nB: 2\r\n\r\nbody')])).toEqual(['A: 1\r\nB: 2\r\n', 'body']);
    expect(read([Buffer.from('A: 1\nB: 2\n\nbody\n')])).toEqual(['A: 1\nB: 2\n', 'body\n']);
    expect(read([Buffer.from('A: 1\n\r\nbody')])).toEqual(['A: 1\n', 'body']);
    expect(read([Buffer.from('\r\nbody')])).toEqual(['', 'body']);
    expect(read([Buffer.from('\nbody')])).toEqual(['', 'body']);
    expect(read([Buffer.from('A: 1\r\nB: 2\r\n')])).toEqual(['A: 1\r\nB: 2\r\n', '']);
  });

  it('gives the same split for any chunking (property)', () => {
    const line = fc.constantFrom('A: 1', 'Subject: x y', ' folded', '\tfolded', '', 'Body line', 'x');
    const text = fc
      .array(fc.tuple(line, fc.constantFrom('\r\n', '\n')), { maxLength: 12 })
      .map((lines) => Buffer.from(lines.map(([l, end]) => l + end).join(''), 'latin1'));
    fc.assert(
      fc.property(text, fc.array(fc.nat(60), { maxLength: 6 }), (bytes, cuts) => {
        const whole = read([bytes]);
        expect(read(splitAt(bytes, cuts))).toEqual(whole);
        expect(read([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
      }),
      { numRuns: 400 },
    );
  });

  it('parses fields with continuation lines, and skips lines without a colon', () => {
    const fields = parseHeaderFields(
      Buffer.from('From Bob  Mon\r\nSubject: a\r\n  b\r\nTo:x\n\tcontinued\r\n', 'latin1'),
    );
    expect(fields).toEqual([
      { name: 'subject', raw: 'Subject: a\r\n  b' },
      { name: 'to', raw: 'To:x\r\n\tcontinued' },
    ]);
  });
});
