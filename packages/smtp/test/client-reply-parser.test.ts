import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmtpClientError } from '../src/core/client-error';
import type { Reply } from '../src/core/reply';
import { parseReply, ReplyParser } from '../src/core/reply-parser';

const bytes = (text: string) => Buffer.from(text, 'utf8');

function feedWhole(text: string | Buffer, parser = new ReplyParser()): Reply[] {
  return parser.push(typeof text === 'string' ? bytes(text) : text);
}

function feedByteByByte(text: string | Buffer, parser = new ReplyParser()): Reply[] {
  const data = typeof text === 'string' ? bytes(text) : text;
  const replies: Reply[] = [];
  for (let i = 0; i < data.length; i++) replies.push(...parser.push(data.subarray(i, i + 1)));
  return replies;
}

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect((error as SmtpClientError).name).toBe('SmtpError');
    return (error as SmtpClientError).code;
  }
  return undefined;
}

const EHLO =
  '250-mx.example.net Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n';

describe('ReplyParser', () => {
  it('parses a single-line reply with its text', () => {
    expect(parseReply('220 mx.example.net ESMTP ready\r\n')).toEqual({
      code: 220,
      lines: ['mx.example.net ESMTP ready'],
    });
  });

  it('parses a multi-line reply into one reply with every line', () => {
    const replies = feedWhole(EHLO);
    expect(replies).toEqual([
      {
        code: 250,
        lines: ['mx.example.net Hello', 'PIPELINING', 'SIZE 10240000', '8BITMIME', 'ENHANCEDSTATUSCODES'],
      },
    ]);
  });

  it('splits off the enhanced status code from every line (RFC 2034)', () => {
    expect(parseReply('550-5.7.1 Relaying denied\r\n550 5.7.1 see https://example.net\r\n')).toEqual({
      code: 550,
      enhanced: '5.7.1',
      lines: ['Relaying denied', 'see https://example.net'],
    });
  });

  it('does not take an enhanced code whose class differs from the reply code', () => {
    expect(parseReply('250 5.1.1 odd\r\n')).toEqual({ code: 250, lines: ['5.1.1 odd'] });
  });

  it('accepts a code with no text and an empty text after the space', () => {
    expect(feedWhole('250\r\n250 \r\n')).toEqual([
      { code: 250, lines: [''] },
      { code: 250, lines: [''] },
    ]);
  });

  it('tolerates bare LF line endings', () => {
    expect(feedWhole('250-a\n250 b\n')).toEqual([{ code: 250, lines: ['a', 'b'] }]);
  });

  it('returns several pipelined replies from one chunk, in order', () => {
    const replies = feedWhole('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n354 go ahead\r\n');
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550, 354]);
    expect(replies[2]).toEqual({ code: 550, enhanced: '5.1.1', lines: ['No such user'] });
  });

  it('keeps a UTF-8 character split between chunks intact', () => {
    const data = bytes('250 Grüße aus Köln\r\n');
    const parser = new ReplyParser();
    expect(parser.push(data.subarray(0, 7))).toEqual([]);
    expect(parser.inProgress).toBe(true);
    expect(parser.push(data.subarray(7))).toEqual([{ code: 250, lines: ['Grüße aus Köln'] }]);
    expect(parser.inProgress).toBe(false);
  });

  it('gives the same replies fed byte by byte as fed whole', () => {
    const text = `220 hi\r\n${EHLO}354 End data with <CR><LF>.<CR><LF>\r\n221 2.0.0 Bye\r\n`;
    expect(feedByteByByte(text)).toEqual(feedWhole(text));
    expect(feedWhole(text)).toHaveLength(4);
  });

  it.each([
    ['a line that does not start with a code', 'hello\r\n'],
    ['a code out of range', '650 nope\r\n'],
    ['a second digit above 5', '260 nope\r\n'],
    ['a bad separator', '250*x\r\n'],
    ['a multi-line reply that changes code', '250-a\r\n251 b\r\n'],
    ['binary junk', '\u0000\u0001\u0002\r\n'],
  ])('throws PROTOCOL for %s', (_, text) => {
    expect(errorCode(() => feedWhole(text))).toBe('PROTOCOL');
  });

  it('throws REPLY_TOO_LONG for a line over the limit, even before its end arrives', () => {
    const parser = new ReplyParser({ maxLineLength: 100 });
    expect(errorCode(() => parser.push(bytes(`250 ${'x'.repeat(200)}`)))).toBe('REPLY_TOO_LONG');
    const split = new ReplyParser({ maxLineLength: 100 });
    expect(errorCode(() => feedByteByByte(`250 ${'x'.repeat(200)}`, split))).toBe('REPLY_TOO_LONG');
  });

  it('throws REPLY_TOO_LONG for a multi-line reply with too many lines', () => {
    const parser = new ReplyParser({ maxLines: 10 });
    expect(errorCode(() => parser.push(bytes('250-x\r\n'.repeat(11))))).toBe('REPLY_TOO_LONG');
  });

  it('accepts a line exactly at the limit', () => {
    const line = `250 ${'x'.repeat(94)}\r\n`;
    expect(line.length).toBe(100);
    expect(new ReplyParser({ maxLineLength: 100 }).push(bytes(line))).toHaveLength(1);
    expect(errorCode(() => new ReplyParser({ maxLineLength: 100 }).push(bytes(`2${line}`)))).toBe('REPLY_TOO_LONG');
  });

  it('stays failed after an error', () => {
    const parser = new ReplyParser();
    expect(errorCode(() => parser.push(bytes('junk\r\n')))).toBe('PROTOCOL');
    expect(errorCode(() => parser.push(bytes('250 ok\r\n')))).toBe('PROTOCOL');
  });
});

const replyLine = fc
  .record({
    code: fc.integer({ min: 200, max: 559 }).filter((c) => c % 100 < 60),
    enhanced: fc.option(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }))),
    lines: fc.array(
      fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, '')),
      {
        minLength: 1,
        maxLength: 6,
      },
    ),
  })
  .map(({ code, enhanced, lines }) => {
    const prefix = enhanced ? `${Math.floor(code / 100)}.${enhanced[0]}.${enhanced[1]} ` : '';
    return lines.map((line, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${prefix}${line}\r\n`).join('');
  });

describe('ReplyParser properties', () => {
  it('gives the same replies for any split of the input as for the whole', () => {
    fc.assert(
      fc.property(
        fc.array(replyLine, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (replies, cuts) => {
          const data = bytes(replies.join(''));
          const whole = feedWhole(data);
          expect(whole).toHaveLength(replies.length);
          const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
          const parser = new ReplyParser();
          const split: Reply[] = [];
          let from = 0;
          for (const point of [...points, data.length]) {
            split.push(...parser.push(data.subarray(from, point)));
            from = point;
          }
          expect(split).toEqual(whole);
          expect(feedByteByByte(data)).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws anything but SmtpClientError on random or mutated input', () => {
    const mutated = fc
      .tuple(
        fc.array(replyLine, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      )
      .map(([replies, edits]) => {
        const data = bytes(replies.join(''));
        for (const [at, value] of edits) data[at % data.length] = value;
        return data;
      });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
          mutated,
        ),
        (data) => {
          const parser = new ReplyParser({ maxLineLength: 256, maxLines: 8 });
          try {
            for (let i = 0; i < data.length; i += 7) parser.push(data.subarray(i, i + 7));
          } catch (error) {
            expect(error).toBeInstanceOf(SmtpClientError);
            expect(['PROTOCOL', 'REPLY_TOO_LONG']).toContain((error as SmtpClientError).code);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
