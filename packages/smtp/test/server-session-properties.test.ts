import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataDecoder, NEED_DATA, PAUSED, ServerSession } from '../src';
import { playTranscript, readTranscripts } from './helpers/transcript';

const folder = join(import.meta.dirname, 'transcripts');
const cases = readdirSync(folder)
  .filter((name) => name.endsWith('.md') && !name.startsWith('client'))
  .flatMap((name) => readTranscripts(join(folder, name)));

describe('server session properties', () => {
  it('gives the same events for every transcript however its bytes are split', () => {
    for (const test of cases) {
      const whole = playTranscript(test);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 40 }), (cuts) => {
          const split = playTranscript(test, (length) =>
            [...new Set(cuts.map((c) => c % (length + 1)))].sort((a, b) => a - b),
          );
          expect(split).toEqual(whole);
        }),
        { numRuns: 30 },
      );
    }
  }, 60_000);

  it('never throws on random or mutated input, and always ends in a known state', () => {
    const seeds = cases.flatMap((test) => test.inputs.flatMap((input) => (input.kind === 'bytes' ? [input.data] : [])));
    const mutated = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      )
      .map(([seed, edits]) => {
        const copy = Buffer.from(seed);
        for (const [at, byte] of edits) if (copy.length > 0) copy[at % copy.length] = byte;
        return copy;
      });
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      mutated,
    );
    fc.assert(
      fc.property(fc.array(input, { maxLength: 6 }), fc.boolean(), (chunks, secure) => {
        const session = new ServerSession({
          secure,
          tlsAvailable: true,
          auth: {},
          maxMessageSize: 300,
          maxTextLine: 50,
        });
        const drain = () => {
          for (let i = 0; i < 10_000; i++) {
            const event = session.nextEvent();
            if (event === NEED_DATA || event === PAUSED) {
              if (event === PAUSED && session.state === 'TLS_HANDSHAKE') session.tlsStarted();
              else return;
            } else if (
              ['Connect', 'Hello', 'StartTls', 'Authenticate', 'MailFrom', 'RcptTo', 'MessageEnd'].includes(event.type)
            ) {
              const out = session.send(
                i % 3 === 0 ? { action: 'reject', code: 550, text: 'no' } : { action: 'accept' },
              );
              expect(out).toMatch(/^(\d{3}[ -][^\r\n]*\r\n)+$/);
            } else if (event.type === 'Reply') {
              expect(event.data).toMatch(/^(\d{3}[ -][^\r\n]*\r\n)+$/);
            }
          }
          throw new Error('the session did not settle');
        };
        drain();
        for (const chunk of chunks) {
          session.receiveData(chunk);
          drain();
        }
        session.receiveData(new Uint8Array(0));
        drain();
        expect(session.closed).toBe(true);
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});

describe('DATA decoder properties', () => {
  // RFC 5321 4.5.2: what a client dot-stuffs, the decoder gives back exactly.
  const line = fc
    .string({ unit: fc.constantFrom('a', '.', ' ', 'x', '\r'), maxLength: 30 })
    .filter((s) => !s.endsWith('\r'));
  it('decodes a dot-stuffed body back to the original, however it is split', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const body = lines.map((l) => `${l}\r\n`).join('');
        const wire = Buffer.from(
          `${lines.map((l) => `${l.startsWith('.') ? '.' : ''}${l}\r\n`).join('')}.\r\nNEXT`,
          'latin1',
        );
        const decoder = new DataDecoder(0);
        const out: Buffer[] = [];
        let pending = Buffer.alloc(0);
        let ended = false;
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const at of [...points, wire.length]) {
          if (ended || at <= from) continue;
          pending = Buffer.concat([pending, wire.subarray(from, at)]);
          from = at;
          const step = decoder.decode(pending, 0);
          expect(step.bareLineFeed).toBe(false);
          for (const segment of step.segments) out.push(Buffer.from(segment));
          pending = pending.subarray(step.consumed);
          ended = step.end;
        }
        expect(ended).toBe(true);
        expect(Buffer.concat(out).toString('latin1')).toBe(body);
        expect(Buffer.concat([pending, wire.subarray(from)]).toString('latin1')).toBe('NEXT');
      }),
      { numRuns: 300 },
    );
  });
});
