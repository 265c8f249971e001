import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEventLog, type EventLogOptions } from '../../src/server/observability/event-log';
import {
  checkEventLine,
  formatValue,
  parseEventLine,
  parseJsonEventLine,
} from '../../src/server/observability/log-line-format';

const ID = 'c1a89cb774083905';
const RUN = '00000000000000aa';

function capture(options: Partial<EventLogOptions> = {}) {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const log = createEventLog({ format: 'text', stream, runId: RUN, clock: () => 1_796_162_874_123, ...options });
  return { log, lines: () => chunks.join('').split('\n').slice(0, -1), text: () => chunks.join('') };
}

describe('the text event log', () => {
  it('writes the seed example lines exactly', () => {
    const { log, lines } = capture();
    log.event(ID, 'smtp', 'connected', { address: '203.0.113.7', host: 'mail.example.net' });
    log.event(ID, 'smtp', 'failed-command', {
      address: '203.0.113.7',
      command: 'AUTH LOGIN',
      result: '503 5.5.1 AUTH not available on this port',
    });
    expect(lines()).toEqual([
      'c1a89cb774083905 smtp connected address=203.0.113.7 host=mail.example.net',
      'c1a89cb774083905 smtp failed-command address=203.0.113.7 command="AUTH LOGIN" result="503 5.5.1 AUTH not available on this port"',
    ]);
  });

  it('puts address first whatever order the fields were given in, and leaves out undefined fields', () => {
    const { log, lines } = capture();
    log.event(ID, 'smtp', 'failed-command', {
      command: 'address=1.2.3.4',
      result: '500',
      tls: undefined,
      address: '::1',
    });
    expect(lines()).toEqual([`${ID} smtp failed-command address=::1 command="address=1.2.3.4" result=500`]);
  });

  it('never lets a value break the line or forge a field: CR, LF, NUL, quotes, backslashes, separators', () => {
    const { log, text } = capture();
    const hostile = `RCPT TO:<a@b>\r\n${ID} smtp auth-failed address=6.6.6.6 user="x\\" \0 tab\t del\x7f \u2028 \u202e \u0085 end`;
    log.event(ID, 'smtp', 'failed-command', { address: '192.0.2.1', command: hostile, result: '550 no' });
    const out = text();
    expect(out.split('\n')).toHaveLength(2);
    expect(out).not.toMatch(/[\r\0\t\x7f\u2028\u202e\u0085]/u);
    const line = out.slice(0, -1);
    expect(line).toBe(
      `${ID} smtp failed-command address=192.0.2.1 command="RCPT TO:<a@b>\\r\\n${ID} smtp auth-failed address=6.6.6.6 user=\\"x\\\\\\" \\x00 tab\\t del\\x7f \\u{2028} \\u{202e} \\u{85} end" result="550 no"`,
    );
    const parsed = parseEventLine(line);
    expect(parsed).toEqual({
      ok: true,
      line: {
        id: ID,
        subsystem: 'smtp',
        event: 'failed-command',
        fields: { address: '192.0.2.1', command: hostile, result: '550 no' },
      },
    });
  });

  it('keeps printable UTF-8 readable inside quotes', () => {
    expect(formatValue('Jürgen <jürgen@bücher.example>')).toBe('"Jürgen <jürgen@bücher.example>"');
    expect(formatValue('plain')).toBe('plain');
    expect(formatValue('')).toBe('""');
    expect(formatValue(12)).toBe('12');
    expect(formatValue(true)).toBe('true');
    expect(formatValue('a=b')).toBe('"a=b"');
  });

  it('round-trips any string value through format and parse, on one line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (anything, text) => {
        const { log, text: out } = capture();
        log.event(ID, 'smtp', 'failed-command', { address: '198.51.100.4', command: anything, user: text });
        const written = out();
        expect(written.indexOf('\n')).toBe(written.length - 1);
        const parsed = parseEventLine(written.slice(0, -1));
        expect(parsed.ok && parsed.line.fields).toEqual({ address: '198.51.100.4', command: anything, user: text });
      }),
      { numRuns: 500 },
    );
  });

  it('adds an ISO 8601 time in front only when asked', () => {
    const { log, lines } = capture({ timestamps: true });
    log.event(ID, 'queue', 'stored', { msgid: 'abc' });
    expect(lines()).toEqual([`2026-12-01T22:07:54.123Z ${ID} queue stored msgid=abc`]);
    expect(parseEventLine(lines()[0]!)).toMatchObject({ ok: true, line: { time: '2026-12-01T22:07:54.123Z' } });
  });

  it('gives lines outside a session the run id, and a bad id to the run id with the bad one as ref', () => {
    const { log, lines } = capture();
    expect(log.runId).toBe(RUN);
    log.event(log.runId, 'server', 'started');
    log.event('not-an-id', 'server', 'oops', { n: 1 });
    expect(lines()).toEqual([`${RUN} server started`, `${RUN} server oops n=1 ref=not-an-id`]);
  });

  it('makes new 16-hex ids that differ', () => {
    const { log } = capture();
    const ids = new Set(Array.from({ length: 1000 }, () => log.newId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('writes names that are not tokens as tokens, and reserved field names with a suffix', () => {
    const { log, lines } = capture();
    log.event(ID, 'SMTP Server', 'Bad Event!', { 'my key': 'v', id: 'x', event: 'y' });
    expect(lines()).toEqual([`${ID} smtp-server bad-event- my_key=v id_=x event_=y`]);
    expect(parseEventLine(lines()[0]!).ok).toBe(true);
  });
});

describe('the library logger', () => {
  it('turns a library line into an event: message names the event, id the session, level warn and error marked', () => {
    const { log, lines } = capture();
    const smtp = log.libraryLogger('smtp');
    smtp.info({ id: ID, address: '203.0.113.9' }, 'smtp connected');
    smtp.warn({ id: ID, err: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) }, 'socket-error');
    smtp.error('listener failed to start');
    smtp.debug({ id: ID }, 'smtp noisy');
    expect(lines()).toEqual([
      `${ID} smtp connected address=203.0.113.9`,
      `${ID} smtp socket-error err="read ECONNRESET" err_code=ECONNRESET level=warn`,
      `${RUN} smtp log message="listener failed to start" level=error`,
    ]);
  });

  it('writes debug lines only when debug is on, and child bindings on every line', () => {
    const { log, lines } = capture({ debug: true });
    const queue = log.libraryLogger('queue').child({ spool: '/var/lib/homing/spool' });
    queue.debug({ batch: 3, ids: ['a', 'b'] }, 'queue committed');
    expect(lines()).toEqual([
      `${RUN} queue committed spool=/var/lib/homing/spool batch=3 ids="[\\"a\\",\\"b\\"]" level=debug`,
    ]);
    for (const line of lines()) expect(checkEventLine(line).ok).toBe(true);
  });
});

describe('the JSON event log', () => {
  it('writes one pino object per line: level, time, id, subsystem, event, then the fields', () => {
    const { log, lines } = capture({ format: 'json' });
    log.event(ID, 'smtp', 'failed-command', { command: 'AUTH\r\nLOGIN', address: '203.0.113.7', skipped: undefined });
    log.libraryLogger('dns').warn({ server: '127.0.0.1:53' }, 'dns timeout');
    const [first, second] = lines();
    expect(first).toBe(
      `{"level":"info","time":1796162874123,"id":"${ID}","subsystem":"smtp","event":"failed-command","address":"203.0.113.7","command":"AUTH\\r\\nLOGIN"}`,
    );
    expect(JSON.parse(second!)).toEqual({
      level: 'warn',
      time: 1_796_162_874_123,
      id: RUN,
      subsystem: 'dns',
      event: 'timeout',
      server: '127.0.0.1:53',
    });
    for (const line of lines()) expect(parseJsonEventLine(line).ok).toBe(true);
  });

  it('drops library debug lines unless debug is on', () => {
    const off = capture({ format: 'json' });
    off.log.libraryLogger('dns').debug('dns query');
    expect(off.lines()).toEqual([]);
    const on = capture({ format: 'json', debug: true });
    on.log.libraryLogger('dns').debug('dns query');
    expect(JSON.parse(on.lines()[0]!)).toMatchObject({ level: 'debug', event: 'query' });
  });
});

describe('the line check', () => {
  it('refuses lines that are not in the documented shape, saying why', () => {
    const bad: [string, RegExp][] = [
      ['hello world', /does not start with/],
      [`${ID} smtp connected address=1.2.3.4 host`, /not a key=value field/],
      [`${ID} smtp connected host=a address=1.2.3.4`, /address is not the first field/],
      [`${ID} smtp connected a="unterminated`, /not a key=value field/],
      [`${ID} smtp connected a="bad \\q escape"`, /broken escape/],
      [`${ID} smtp connected a=1 a=2`, /twice/],
      [`${ID} smtp connected a="raw\ttab"`, /raw control/],
      [`yesterday ${ID} smtp connected`, /ISO 8601/],
      [`${ID} smtp connected  a=1`, /not a key=value field/],
    ];
    for (const [line, reason] of bad) {
      const check = parseEventLine(line);
      expect(check.ok, line).toBe(false);
      if (!check.ok) expect(check.reason, line).toMatch(reason);
    }
    expect(parseJsonEventLine('{"level":"info","time":1,"id":"x","subsystem":"a","event":"b"}')).toEqual({
      ok: false,
      reason: 'id is not 16 hex digits',
    });
    expect(checkEventLine('{"level":30}', 'json').ok).toBe(false);
  });
});
