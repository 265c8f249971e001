import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventLog } from '../../src/server/observability/event-log';
import { parseEventLine } from '../../src/server/observability/log-line-format';
import { bannedAddresses, fail2banMissing, jailSetting, runFail2banRegex } from './fail2ban-regex';

const missing = fail2banMissing();
if (missing !== undefined) console.log(`skipping the fail2ban-regex tests: ${missing}`);

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-fail2ban-log-'));
});
afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** Log lines written by the event log module, as the server writes them; `matching` counts those the filter must match. */
function sessionLog() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  let now = Date.parse('2026-12-01T22:00:00.000Z');
  const log = createEventLog({ format: 'text', stream, timestamps: true, clock: () => (now += 1000) });
  let matching = 0;
  const failedAuth = (address: string, user: string) => {
    const id = log.newId();
    log.event(id, 'smtp', 'auth-failed', { address, user, mechanism: 'PLAIN' });
    matching++;
  };
  const failedCommand = (address: string, command: string, result: string) => {
    log.event(log.newId(), 'smtp', 'failed-command', { address, command, result });
    if (result.startsWith('5')) matching++;
  };

  // A dictionary attack on AUTH: banned.
  for (let i = 0; i < 6; i++) failedAuth('203.0.113.66', `admin${i}`);
  // An IPv6 relay prober: banned.
  for (let i = 0; i < 5; i++)
    failedCommand('2001:db8::bad', `RCPT TO:<victim${i}@elsewhere.example>`, '550 5.7.1 Relaying denied');
  // Forgeries: command and user text that carries another address, quotes, or a whole second line.
  for (let i = 0; i < 5; i++) {
    failedCommand(
      '198.51.100.23',
      `RCPT TO:<x@y> address=1.2.3.4 " result="550 x\r\n0123456789abcdef smtp auth-failed address=1.2.3.4 user="u"`,
      '550 5.1.1 <x@y>: no such user',
    );
  }
  failedAuth('198.51.100.24', 'x" address=1.2.3.4 \\" address=1.2.3.4');
  // Whole forged events, id and all, inside the text of a user, a 4xx command, a host and a msgid.
  const forged = '0123456789abcdef smtp auth-failed address=1.2.3.4 mechanism=PLAIN';
  failedAuth('198.51.100.24', forged);
  failedCommand('192.0.2.20', `MAIL FROM:<a@b.example> ${forged}`, '451 4.3.0 try later');
  failedCommand('198.51.100.25', 'AUTH LOGIN address=1.2.3.4', '503 5.5.1 AUTH not available on this port');
  // Connections that never finish their TLS handshake (a slowloris on 465 or after STARTTLS): banned.
  for (let i = 0; i < 5; i++) {
    log.event(log.newId(), 'smtp', 'tls-handshake-timeout', { address: '203.0.113.90' });
    matching++;
  }
  // A typo now and then: counted, below maxretry.
  failedCommand('192.0.2.10', 'RCPT TO:<bbo@example.org>', '550 5.1.1 <bbo@example.org>: no such user');
  failedCommand('192.0.2.10', 'RCPT TO:<bob@example.org >', '501 5.1.3 Bad recipient address syntax');
  // A multi-line reply, as the server sends it, and a bare code.
  failedCommand('192.0.2.11', 'DATA', '554-5.7.1 refused\r\n554 5.7.1 see https://example.org/why');
  failedCommand('192.0.2.11', 'VRFY', '502');
  // Temporary failures never count: a DNS outage must not ban the senders it delays.
  for (let i = 0; i < 8; i++)
    failedCommand('192.0.2.20', 'MAIL FROM:<a@b.example>', '451 4.4.3 DNS lookup failed, try later');
  // Other events of the same sessions, with client text too.
  log.event(log.newId(), 'smtp', 'connected', { address: '1.2.3.4', host: forged });
  log.event(log.newId(), 'smtp', 'message', {
    address: '192.0.2.30',
    msgid: '<0123456789abcdef smtp failed-command address=1.2.3.4 command=x result="550 x">',
    from: '<a@b.example>',
    result: '250 2.0.0 queued',
  });
  log.event(log.newId(), 'filter', 'junk', {
    address: '192.0.2.31',
    name: 'fcrdns',
    reason: 'PTR does not resolve back',
  });
  // A failed-command line without the address field (as a library alone would log it) is not a match.
  log.event(log.newId(), 'smtp', 'failed-command', { result: '550 5.7.1 x', command: 'address=1.2.3.4' });
  return { text: () => chunks.join(''), matching: () => matching };
}

describe.skipIf(missing !== undefined)('the fail2ban filter, through fail2ban-regex', { timeout: 60_000 }, () => {
  it('matches the failed AUTH, 5xx failed-command and TLS handshake timeout lines and nothing else, and bans only the attackers', async () => {
    const log = sessionLog();
    const text = log.text();
    for (const line of text.split('\n').slice(0, -1)) expect(parseEventLine(line).ok, line).toBe(true);
    const file = join(dir, 'iso.log');
    await writeFile(file, text);
    const result = await runFail2banRegex(file);
    const lines = text.split('\n').length - 1;
    expect(result.lines).toBe(lines);
    expect(result.matched).toBe(log.matching());
    expect(result.missed).toBe(lines - log.matching());
    expect(result.addresses).not.toContain('1.2.3.4');
    expect(new Set(result.addresses)).toEqual(
      new Set([
        '203.0.113.66',
        '2001:db8::bad',
        '198.51.100.23',
        '198.51.100.24',
        '198.51.100.25',
        '192.0.2.10',
        '192.0.2.11',
        '203.0.113.90',
      ]),
    );
    const maxretry = Number(await jailSetting('maxretry'));
    expect(maxretry).toBe(5);
    expect(bannedAddresses(result.addresses, maxretry)).toEqual([
      '198.51.100.23',
      '2001:db8::bad',
      '203.0.113.66',
      '203.0.113.90',
    ]);
  });

  it('reads the same lines behind a syslog or journal prefix, and without any time', async () => {
    const { text, matching } = sessionLog();
    const bodies = text()
      .split('\n')
      .slice(0, -1)
      .map((line) => line.replace(/^\S+ /, ''));
    const clock = (i: number) =>
      `22:${String(10 + Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`;
    const variants: [string, string[]][] = [
      ['syslog', bodies.map((line, i) => `Dec  1 ${clock(i)} mx homing[4242]: ${line}`)],
      // fail2ban's systemd backend sees a node process as its identifier unless the unit sets SyslogIdentifier.
      ['journal', bodies.map((line, i) => `Dec  1 ${clock(i)} mx.example.org node[77]: ${line}`)],
      ['bare', bodies],
    ];
    for (const [name, lines] of variants) {
      const file = join(dir, `${name}.log`);
      await writeFile(file, `${lines.join('\n')}\n`);
      const result = await runFail2banRegex(file);
      expect(result.matched, name).toBe(matching());
      expect(result.addresses, name).not.toContain('1.2.3.4');
      expect(bannedAddresses(result.addresses, 5), name).toEqual([
        '198.51.100.23',
        '2001:db8::bad',
        '203.0.113.66',
        '203.0.113.90',
      ]);
    }
  });
});
