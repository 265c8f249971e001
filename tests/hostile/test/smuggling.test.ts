// SMTP smuggling (issue 16; SEC Consult, December 2023): an end of data other than CRLF.CRLF
// must never end the message, so a second message hidden in the first never becomes a message
// of its own. Checked against what reached the queue (the log's `smtp message` lines) and the
// Maildir, not only against the replies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatteryServer, startBatteryServer } from '../src/battery-server';
import { waitUntil } from '../src/mail-client';
import { openSession, type Session } from '../src/smtp-session';
import { record } from '../src/summary';

// The published end-of-data variants, as they sit between the two messages.
const VARIANTS: [name: string, bytes: string][] = [
  ['LF.LF', '\n.\n'],
  ['CR.CR', '\r.\r'],
  ['CRLF.CR', '\r\n.\r'],
  ['LF.CRLF', '\n.\r\n'],
  ['CR.CRLF', '\r.\r\n'],
  ['CRLF.LF', '\r\n.\n'],
  ['CRLF NUL.CRLF', '\r\n\0.\r\n'],
  ['CRLF.NUL CRLF', '\r\n.\0\r\n'],
  ['CRLF.CR CRLF', '\r\n.\r\r\n'],
  ['CRLF.SP CRLF', '\r\n. \r\n'],
];

let server: BatteryServer;
// Per case: the replies after the end of data.
const outcomes = new Map<string, { replies: string[]; accepted: number }>();

beforeAll(async () => {
  server = await startBatteryServer();
});

afterAll(async () => {
  record({ crashes: server.crashes, peakRss: server.peakRss() });
  await server?.close();
});

/** The smuggled second transaction, as an attacker writes it after the fake end of data. */
function smuggled(tag: string): string {
  return [
    'MAIL FROM:<smuggled@sender.test>',
    'RCPT TO:<alice@example.org>',
    'DATA',
    'From: smuggled@sender.test',
    `X-Battery-Id: smuggled-${tag}`,
    '',
    'I should not exist.',
  ].join('\r\n');
}

function outer(tag: string): string {
  return ['From: someone@sender.test', 'To: alice@example.org', `X-Battery-Id: outer-${tag}`, '', 'first part'].join(
    '\r\n',
  );
}

/** Every reply until the server closes or stays silent for `quietMs`. */
async function drain(s: Session, quietMs = 1500): Promise<string[]> {
  const replies: string[] = [];
  for (;;) {
    try {
      replies.push(await s.next(quietMs));
    } catch {
      return replies;
    }
  }
}

async function transaction(): Promise<Session> {
  const s = await openSession(server.current.mxPort);
  expect(await s.send('EHLO client.sender.test')).toMatch(/^250/);
  expect(await s.send('MAIL FROM:<someone@sender.test>')).toMatch(/^250/);
  expect(await s.send('RCPT TO:<alice@example.org>')).toMatch(/^250/);
  return s;
}

function messagesQueuedFor(tagPattern: RegExp): string[] {
  return server.current.lines().filter((line) => / smtp message /.test(line) && tagPattern.test(line));
}

describe('an end of data other than CRLF.CRLF never ends the message', () => {
  for (const [name, bytes] of VARIANTS) {
    it(`DATA with ${name} between two messages stays one message (or none)`, async () => {
      const s = await transaction();
      expect(await s.send('DATA')).toMatch(/^354/);
      s.write(`${outer(name)}${bytes}${smuggled(name)}\r\n.\r\nQUIT\r\n`);
      const replies = await drain(s);
      s.close();
      // No second transaction started: no 354 for the smuggled DATA, at most one 250 for a body.
      expect(replies.filter((r) => r.startsWith('354'))).toEqual([]);
      const accepted = replies.filter((r) => /^250 2\.0\.0 Ok: queued/.test(r)).length;
      expect(accepted).toBeLessThanOrEqual(1);
      outcomes.set(name, { replies, accepted });
    });
  }

  it('in BDAT, a chunk holding CRLF.CRLF and commands is data, all of it', async () => {
    const s = await transaction();
    const chunk = `${outer('BDAT')}\r\n.\r\n${smuggled('BDAT')}\r\n.\r\n`;
    const replies = [await s.sendRaw(`BDAT ${Buffer.byteLength(chunk)}\r\n${chunk}`)];
    replies.push(await s.send('BDAT 0 LAST'));
    s.write('QUIT\r\n');
    replies.push(...(await drain(s)));
    s.close();
    expect(replies.filter((r) => r.startsWith('354'))).toEqual([]);
    expect(replies[1]).toMatch(/^250 2\.0\.0 Ok: queued/);
    outcomes.set('BDAT', { replies, accepted: 1 });
  });

  it('the queue and the Maildir hold no smuggled message, and each accepted one holds its hidden part', async () => {
    const cases = [...VARIANTS.map(([name]) => name), 'BDAT'];
    const expected = cases.reduce((n, name) => n + (outcomes.get(name)?.accepted ?? 0), 0);
    record({ acknowledged: expected });
    // Local delivery runs on its own: wait until every acknowledged message is in the Maildir.
    await waitUntil(
      () => server.current.maildir('alice@example.org').length >= expected,
      15_000,
      () => `${server.current.maildir('alice@example.org').length} of ${expected} messages delivered`,
    );
    await new Promise((r) => setTimeout(r, 500));
    const files = server.current.maildir('alice@example.org');
    const texts = files.map((file) => server.current.readMail('alice@example.org', file));
    expect(texts.length).toBe(expected);
    record({ delivered: texts.length });
    // Nothing from the smuggled sender reached the queue, and no message starts with a smuggled id.
    expect(messagesQueuedFor(/from=<smuggled@sender\.test>/)).toEqual([]);
    for (const text of texts) {
      const firstId = /^X-Battery-Id: (\S+)/m.exec(text)?.[1] ?? '';
      expect(firstId, 'a smuggled message became a message').toMatch(/^outer-/);
      // The bytes after the fake end are still inside the one message.
      expect(text).toContain('MAIL FROM:<smuggled@sender.test>');
    }
    for (const name of cases) {
      const copies = texts.filter((text) => text.includes(`X-Battery-Id: outer-${name}\r\n`)).length;
      expect(copies, `copies of the ${name} message`).toBe(outcomes.get(name)?.accepted ?? -1);
    }
  });
});
