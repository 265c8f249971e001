import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ClientEvent, ClientSession, type ClientSessionOptions } from '../src/core/client-session';
import { renderEvent } from './client-transcript-runner';

/**
 * Plays a server's output, unit by unit (what it sends in answer to one client write), against a
 * ClientSession driven like an adapter would drive it. Reactions to events run after each unit, so
 * the log must not depend on how each unit is split into chunks.
 */
function play(options: ClientSessionOptions, units: Buffer[], split: (unit: Buffer) => Buffer[]): string[] {
  const session = new ClientSession(options);
  const log: string[] = [];
  let messages = 0;
  const take = (events: ClientEvent[], pending: ClientEvent[]) => {
    for (const event of events) {
      if (event.type === 'Send') log.push(`C: ${event.text}`);
      else {
        log.push(`E: ${renderEvent(event)}`);
        pending.push(event);
      }
    }
  };
  const react = (event: ClientEvent, pending: ClientEvent[]) => {
    try {
      if (event.type === 'Ready' || event.type === 'MessageDone') {
        if (session.state !== 'READY') return;
        if (messages++ < 2)
          take(session.startMessage({ from: 'a@example.com', to: ['b@example.net', 'c@example.net'] }), pending);
        else take(session.quit(), pending);
      } else if (event.type === 'SendBody') {
        if (event.mode === 'data') take(session.endBody(), pending);
        else take(session.bdatChunk(Buffer.from('hi\r\n'), true), pending);
      } else if (event.type === 'StartTls') {
        take(session.tlsEstablished(), pending);
      }
    } catch (error) {
      expect((error as { name?: string }).name).toBe('SmtpError');
      log.push(`!: ${(error as { code?: string }).code}`);
    }
  };
  for (const unit of units) {
    const pending: ClientEvent[] = [];
    for (const chunk of split(unit)) take(session.receive(chunk), pending);
    while (pending.length > 0) react(pending.shift()!, pending);
  }
  take(session.connectionClosed(), []);
  log.push(`state: ${session.state}`);
  return log;
}

const replyText = fc.constantFrom(
  'ok',
  'mx.example.net',
  'PIPELINING',
  'STARTTLS',
  'CHUNKING',
  'AUTH PLAIN LOGIN',
  'SIZE 100',
  '2.1.0 ok',
  '5.1.1 no',
  '',
);
const reply = fc
  .record({
    code: fc.constantFrom(220, 221, 235, 250, 334, 354, 421, 450, 452, 500, 502, 535, 550, 554),
    lines: fc.array(replyText, { minLength: 1, maxLength: 4 }),
  })
  .map(({ code, lines }) => lines.map((line, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${line}\r\n`).join(''));
const plausibleUnit = fc.array(reply, { minLength: 1, maxLength: 4 }).map((replies) => Buffer.from(replies.join('')));
const garbageUnit = fc.uint8Array({ minLength: 1, maxLength: 60 }).map((a) => Buffer.from(a));
const units = fc.array(fc.oneof({ weight: 5, arbitrary: plausibleUnit }, { weight: 1, arbitrary: garbageUnit }), {
  minLength: 1,
  maxLength: 14,
});
const options = fc.record({
  hostname: fc.constant('client.example'),
  tls: fc.constantFrom('opportunistic', 'required', 'implicit', 'none') as fc.Arbitrary<ClientSessionOptions['tls']>,
  chunking: fc.boolean(),
  auth: fc.option(fc.constant({ user: 'u', pass: 'p', allowInsecure: true }), { nil: undefined }),
});

const whole = (unit: Buffer) => [unit];
const byteByByte = (unit: Buffer) => [...unit].map((byte) => Buffer.of(byte));

describe('ClientSession under random server output', () => {
  it('gives the same events fed whole, byte by byte, or in random splits, and never throws from receive()', () => {
    fc.assert(
      fc.property(options, units, fc.array(fc.nat(), { maxLength: 30 }), (opts, script, cuts) => {
        const expected = play(opts, script, whole);
        let cut = 0;
        const random = (unit: Buffer) => {
          const mine = cuts.slice(cut, cut + 3);
          cut += 3;
          const points = [...new Set(mine.map((c) => c % (unit.length + 1)))].sort((a, b) => a - b);
          const parts: Buffer[] = [];
          let from = 0;
          for (const point of [...points, unit.length]) {
            parts.push(unit.subarray(from, point));
            from = point;
          }
          return parts;
        };
        expect(play(opts, script, byteByByte)).toEqual(expected);
        expect(play(opts, script, random)).toEqual(expected);
        // The session ends in a resting state, whatever it was fed.
        expect(expected.at(-1)).toMatch(/^state: (FAILED|CLOSED)$/);
        // At most one failure is reported.
        expect(expected.filter((line) => line.startsWith('E: Failed')).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 400 },
    );
  });

  it('reaches a delivered message for a well-behaved script', () => {
    const script = [
      '220 mx.example.net ESMTP\r\n',
      '250-mx.example.net\r\n250 PIPELINING\r\n',
      '250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n',
      '250 queued\r\n',
    ].map((s) => Buffer.from(s));
    const log = play({ hostname: 'client.example', tls: 'none' }, script, byteByByte);
    expect(log).toContain('E: MessageDone accepted=b@example.net rejected=c@example.net:550 data=250');
  });
});
