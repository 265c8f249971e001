// The open-relay battery (issue 16): every classic trick to make the MX send mail elsewhere is
// refused without AUTH, from loopback too, with the refusal logged; on submission only an
// authenticated user gets past RCPT. Checked against the replies, the log and the spool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatteryServer, startBatteryServer } from '../src/battery-server';
import { batteryMessage, maildirCopies, waitUntil } from '../src/mail-client';
import { openSession, type Session } from '../src/smtp-session';
import { record } from '../src/summary';

// Recipients that are not ours, each written the way a relay probe writes it.
const TRICKS: [name: string, recipient: string][] = [
  ['a plain foreign domain', 'victim@evil.test'],
  ['the percent hack', 'victim%evil.test@example.org'],
  ['the percent hack at an address literal', 'victim%evil.test@[127.0.0.1]'],
  ['a bang path', 'evil.test!victim'],
  ['a bang path at our domain', 'evil.test!victim@example.org'],
  ['a source route', '@example.org:victim@evil.test'],
  ['a source route through two hops', '@mx.example.org,@example.org:victim@evil.test'],
  ['a quoted local part with @', '"victim@evil.test"@example.org'],
  ['a quoted local part with @ and no domain', '"victim@evil.test"'],
  ['an address literal', 'victim@[127.0.0.1]'],
  ['an IPv6 address literal', 'victim@[IPv6:::1]'],
  ['an unqualified recipient', 'victim'],
  ['upper case foreign domain', 'victim@EVIL.TEST'],
  ['a trailing dot on a foreign domain', 'victim@evil.test.'],
  ['our domain as a prefix', 'victim@example.org.evil.test'],
  ['our domain as a suffix without a dot', 'victim@evilexample.org'],
  ['our domain as a suffix of a subdomain', 'victim@mail.example.org'],
  ['an IDN look-alike in punycode', 'victim@xn--exmple-4nf.org'],
  ['an IDN look-alike in UTF-8', 'victim@exаmple.org'],
  ['a percent hack inside a quoted local part', '"victim%evil.test"@example.org'],
  ['a bracketed foreign domain', 'victim@[evil.test]'],
  ['a recipient with two @', 'victim@evil.test@example.org'],
];

let server: BatteryServer;
const refusals: string[] = [];

beforeAll(async () => {
  server = await startBatteryServer();
});

afterAll(async () => {
  record({ crashes: server.crashes, peakRss: server.peakRss() });
  await server?.close();
});

async function mxSession(localAddress = '127.0.0.1'): Promise<Session> {
  const s = await openSession(server.current.mxPort, { localAddress });
  expect(await s.send('EHLO client.sender.test')).toMatch(/^250/);
  return s;
}

/** RCPT's reply, after EHLO and MAIL FROM `from`; SMTPUTF8 when the address needs it. */
async function tryRecipient(s: Session, recipient: string, from = 'someone@sender.test'): Promise<string> {
  const utf8 = /[^\x00-\x7f]/.test(recipient) ? ' SMTPUTF8' : '';
  const mail = await s.send(`MAIL FROM:<${from}>${utf8}`);
  if (!mail.startsWith('250')) {
    refusals.push(`MAIL FROM:<${from}>${utf8}`);
    return mail;
  }
  const reply = await s.send(`RCPT TO:<${recipient}>`);
  refusals.push(`RCPT TO:<${recipient}>`);
  return reply;
}

function expectRefused(reply: string): void {
  // A refusal is 5xx (or 4xx for a syntax the server will never take): never 250/251.
  expect(reply).toMatch(/^[45]\d\d /);
}

describe('the MX refuses to relay, from loopback, without AUTH', () => {
  for (const [name, recipient] of TRICKS) {
    it(`refuses ${name}: <${recipient}>`, async () => {
      const s = await mxSession();
      expectRefused(await tryRecipient(s, recipient));
      // The transaction has no recipient, so DATA is refused too.
      expect(await s.send('DATA')).toMatch(/^5/);
      s.close();
    });
  }

  it('refuses a foreign recipient from another loopback address (127.0.0.9)', async () => {
    const s = await mxSession('127.0.0.9');
    expectRefused(await tryRecipient(s, 'victim@evil.test'));
    s.close();
  });

  it('refuses when the sender claims our own domain (at MAIL, by SPF, or at RCPT)', async () => {
    const s = await mxSession();
    expectRefused(await tryRecipient(s, 'victim@evil.test', 'alice@example.org'));
    s.close();
  });

  it('refuses with a null sender (a bounce to somewhere else)', async () => {
    const s = await mxSession();
    expectRefused(await tryRecipient(s, 'victim@evil.test', ''));
    s.close();
  });

  it('does not offer AUTH, and a failed AUTH does not open the relay', async () => {
    const s = await mxSession();
    const ehlo = await s.send('EHLO client.sender.test');
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await s.send(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0wrong').toString('base64')}`)).toMatch(/^5/);
    expectRefused(await tryRecipient(s, 'victim@evil.test'));
    s.close();
  });

  it('refuses after RSET, following an accepted local recipient', async () => {
    const s = await mxSession();
    expect(await tryRecipient(s, 'alice@example.org')).toMatch(/^250/);
    expect(await s.send('RSET')).toMatch(/^250/);
    expectRefused(await tryRecipient(s, 'victim@evil.test'));
    s.close();
  });

  it('refuses a foreign recipient next to an accepted local one in the same transaction', async () => {
    const s = await mxSession();
    expect(await tryRecipient(s, 'alice@example.org')).toMatch(/^250/);
    const reply = await s.send('RCPT TO:<victim@evil.test>');
    refusals.push('RCPT TO:<victim@evil.test>');
    expectRefused(reply);
    s.close();
  });

  it('refuses after STARTTLS', async () => {
    const s = await mxSession();
    expect(await s.startTls()).toMatch(/^250/);
    expectRefused(await tryRecipient(s, 'victim@evil.test'));
    s.close();
  });

  it('logs every refused RCPT with its reply, and queued nothing for anybody else', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const failed = server.current.lines().filter((line) => / smtp failed-command /.test(line));
    // The command as logged: quoted (JSON escapes) when it has spaces or quotes.
    const loggedCommand = (line: string) => {
      const value = / command=("(?:[^"\\]|\\.)*"|\S+)/.exec(line)?.[1] ?? '';
      return value.startsWith('"') ? (JSON.parse(value) as string) : value;
    };
    for (const command of new Set(refusals)) {
      const wanted = refusals.includes(command) && command !== 'RCPT TO:<alice@example.org>';
      if (!wanted) continue;
      const logged = failed.find((line) => loggedCommand(line) === command && /result="[45]/.test(line));
      expect(logged, `no failed-command line for ${command} in\n${failed.join('\n')}`).toBeDefined();
    }
    const accepted = server.current.lines().filter((line) => / smtp message /.test(line) && /result="250/.test(line));
    expect(accepted).toEqual([]);
  });
});

describe('postmaster without a domain (RFC 5321 4.1.1.3: it must be accepted)', () => {
  it('is delivered to our own postmaster, never relayed', async () => {
    const before = server.current.maildir('alice@example.org');
    const s = await mxSession();
    const reply = await tryRecipient(s, 'postmaster');
    if (reply.startsWith('250')) {
      expect(await s.send('DATA')).toMatch(/^354/);
      expect(await s.sendRaw(`${batteryMessage('relay-postmaster')}.\r\n`)).toMatch(/^250/);
      record({ acknowledged: 1 });
      // The first user is the postmaster: the message lands in alice's Maildir and nowhere else.
      const text = await server.current.waitForNew('alice@example.org', before);
      expect(text).toMatch(/^Delivered-To: alice@example\.org/m);
      record({ delivered: 1 });
    } else expectRefused(reply);
    s.close();
  });
});

describe('submission relays only for an authenticated user', () => {
  it('refuses MAIL and RCPT before AUTH, also after STARTTLS and a failed AUTH', async () => {
    const s = await openSession(server.current.submissionPort);
    expect(await s.send('EHLO client.sender.test')).toMatch(/^250/);
    // AUTH only under TLS (RFC 8314): not offered in the clear.
    expect(await s.send(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0alice-password').toString('base64')}`)).toMatch(
      /^5/,
    );
    expect(await s.send('MAIL FROM:<alice@example.org>')).toMatch(/^5/);
    expect(await s.startTls()).toMatch(/AUTH/);
    expect(await s.send(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0wrong').toString('base64')}`)).toMatch(/^535/);
    expect(await s.send('MAIL FROM:<alice@example.org>')).toMatch(/^530/);
    expect(await s.send('RCPT TO:<victim@evil.test>')).toMatch(/^5/);
    expect(await s.send('DATA')).toMatch(/^5/);
    s.close();
  });

  it('takes mail from the authenticated user on 465', async () => {
    const s = await openSession(server.current.submissionsPort, { implicitTls: true });
    expect(await s.send('EHLO client.sender.test')).toMatch(/AUTH/);
    expect(await s.send(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0alice-password').toString('base64')}`)).toMatch(
      /^235/,
    );
    expect(await s.send('MAIL FROM:<alice@example.org>')).toMatch(/^250/);
    expect(await s.send('RCPT TO:<alice@example.org>')).toMatch(/^250/);
    expect(await s.send('DATA')).toMatch(/^354/);
    expect(await s.sendRaw(`${batteryMessage('relay-submission', 3, 'alice@example.org')}.\r\n`)).toMatch(/^250/);
    record({ acknowledged: 1 });
    await waitUntil(
      () => maildirCopies(server.current).has('relay-submission'),
      10_000,
      () => 'the submitted message was not delivered',
    );
    record({ delivered: 1 });
    s.close();
  });

  it('never logs a password, in the clear or in its base64 AUTH form', () => {
    const secrets = ['alice-password', 'wrong'].flatMap((password) => [
      Buffer.from(`\0alice@example.org\0${password}`).toString('base64'),
      `\u0000${password}`,
    ]);
    const text = server.current.lines().join('\n') + server.current.stderr();
    expect(text).toMatch(/ smtp (authenticated|auth-failed) /);
    for (const secret of [...secrets, 'alice-password']) expect(text).not.toContain(secret);
  });
});
