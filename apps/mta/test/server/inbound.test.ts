import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, type HomingServer, startHoming } from './harness';
import { converse, python, swaksTo } from './smtp-talk';

// A real `homing start` on loopback, DNS from the loopback server: mail from a host with
// FCrDNS and SPF pass lands in the Inbox; the MX relays for nobody and offers no AUTH.
describe('homing start: the MX', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({
      users: [
        { address: 'alice@example.org', password: 'alice-password' },
        { address: 'bob@example.org', password: 'bob-password' },
      ],
    });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('delivers a message from swaks to the Maildir with Received and Authentication-Results', async () => {
    const before = server.maildir('alice@example.org');
    const result = await swaksTo(server.mxPort, 'alice@example.org', [
      '--helo',
      'mail.sender.test',
      '--header',
      'Subject: from swaks',
      '--body',
      'hello from swaks',
    ]);
    expect(result.output, result.output).toMatch(/<[-~] +250 2\.0\.0 Ok: queued as /);
    expect(result.code).toBe(0);
    const text = await server.waitForNew('alice@example.org', before);
    expect(text).toMatch(/^Return-Path: <someone@sender\.test>\r\n/);
    expect(text).toMatch(
      /\r\nReceived: from mail\.sender\.test \(mail\.sender\.test \[127\.0\.0\.1\]\)\r\n\tby mx\.example\.org \(Homing\) with ESMTP/,
    );
    expect(text).toMatch(/\r\nAuthentication-Results: mx\.example\.org;[\s\S]*spf=pass/);
    expect(text).toContain('Subject: from swaks');
    expect(text).toContain('hello from swaks');
    expect(text).not.toContain('X-Homing-Junk');
  }, 30_000);

  it('delivers a message from Python smtplib over STARTTLS to two users at once', async () => {
    const before = [server.maildir('alice@example.org'), server.maildir('bob@example.org')];
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")',
      's.starttls(context=ctx); s.ehlo("mail.sender.test")',
      'msg = "From: someone@sender.test\\r\\nTo: alice@example.org\\r\\nSubject: smtplib\\r\\nMessage-ID: <py1@sender.test>\\r\\n\\r\\nhello from python\\r\\n"',
      'refused = s.sendmail("someone@sender.test", ["alice@example.org", "Bob@Example.ORG"], msg)',
      'print("refused", refused); s.quit()',
    ].join('\n');
    const out = await python(script, [String(server.mxPort)]);
    expect(out.trim()).toBe('refused {}');
    const text = await server.waitForNew('alice@example.org', before[0]!);
    await server.waitForNew('bob@example.org', before[1]!);
    expect(text).toContain('with ESMTPS');
    expect(text).toContain('Message-ID: <py1@sender.test>');
    await server.waitForLine(/ smtp message .*msgid="?<py1@sender\.test>/);
  }, 30_000);

  it('refuses an unknown user at RCPT with 550 5.1.1', async () => {
    const c = await converse(server.mxPort);
    expect(await c.send('EHLO mail.sender.test')).toMatch(/^250/);
    expect(await c.send('MAIL FROM:<someone@sender.test>')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<nobody@example.org>')).toMatch(/^550 5\.1\.1 /);
    c.close();
  }, 15_000);

  it('relays for nobody, not even for 127.0.0.1', async () => {
    const c = await converse(server.mxPort, '127.0.0.1');
    expect(await c.send('EHLO mail.sender.test')).toMatch(/^250/);
    expect(await c.send('MAIL FROM:<someone@sender.test>')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<someone@elsewhere.test>')).toMatch(/^550 5\.7\.1 Relaying denied/);
    expect(await c.send('RCPT TO:<alice@example.org.elsewhere.test>')).toMatch(/^550 5\.7\.1/);
    c.close();
  }, 15_000);

  it('answers AUTH on the MX with 503 5.5.1, also after STARTTLS is not offered AUTH', async () => {
    const c = await converse(server.mxPort);
    const ehlo = await c.send('EHLO mail.sender.test');
    expect(ehlo).not.toMatch(/AUTH/);
    expect(ehlo).toMatch(/STARTTLS/);
    expect(await c.send('AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNlLXBhc3N3b3Jk')).toMatch(/^503 5\.5\.1 /);
    c.close();
    await server.waitForLine(/ smtp failed-command .*command="AUTH PLAIN".*result="503 5\.5\.1/);
  }, 15_000);

  it('always accepts postmaster, of every domain, and delivers it to the first user', async () => {
    const before = server.maildir('alice@example.org').length;
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    expect(await c.send('MAIL FROM:<>')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<postmaster@example.org>')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<Postmaster>')).toMatch(/^250/);
    expect(await c.send('DATA')).toMatch(/^354/);
    expect(await c.send('Subject: to postmaster\r\n\r\nhi\r\n.')).toMatch(/^250 2\.0\.0/);
    c.close();
    // Both recipients are the same mailbox: delivered once.
    await server.waitForMail('alice@example.org', before + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.maildir('alice@example.org').length).toBe(before + 1);
  }, 15_000);

  it('delivers user+tag@ to user', async () => {
    const before = server.maildir('bob@example.org');
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    await c.send('MAIL FROM:<someone@sender.test>');
    expect(await c.send('RCPT TO:<bob+lists@example.org>')).toMatch(/^250/);
    await c.send('DATA');
    expect(await c.send('Subject: tagged\r\n\r\nhi\r\n.')).toMatch(/^250/);
    c.close();
    expect(await server.waitForNew('bob@example.org', before)).toContain('Delivered-To: bob@example.org');
  }, 15_000);

  it('accepts a body line over 1000 octets and stores it as received', async () => {
    const before = server.maildir('bob@example.org');
    const long = 'x'.repeat(5000);
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    await c.send('MAIL FROM:<someone@sender.test>');
    await c.send('RCPT TO:<bob@example.org>');
    await c.send('DATA');
    expect(await c.send(`Subject: long line\r\n\r\n${long}\r\n.`)).toMatch(/^250/);
    c.close();
    expect(await server.waitForNew('bob@example.org', before)).toContain(`\r\n\r\n${long}\r\n`);
  }, 15_000);

  it('counts what it did on the Prometheus endpoint', async () => {
    const before = server.maildir('alice@example.org');
    await swaksTo(server.mxPort, 'alice@example.org');
    await swaksTo(server.mxPort, 'nobody@example.org');
    await server.waitForNew('alice@example.org', before);
    const response = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(value(/^homing_messages_accepted_total\{listener="mx"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^homing_messages_rejected_total\{reason="unknown-user"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^homing_local_deliveries_total\{result="ok",folder="INBOX"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^homing_connections_total\{listener="mx"\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^homing_queue_messages\{state="pending"\} \d+/m);
  }, 20_000);
});

describe('homing start: a per-user quota', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({ extraConfig: 'quota: 2K' });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('answers 452 4.2.2 at RCPT when the mailbox is over its quota', async () => {
    // Mail the user already has (Dovecot moved it to cur/): 3000 bytes, over the 2 KiB quota.
    const maildir = join(server.state, 'mail', 'example.org', 'alice');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
    writeFileSync(join(maildir, 'cur', '1796000000.old.mx,S=3000:2,S'), 'x'.repeat(3000));
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    await c.send('MAIL FROM:<someone@sender.test>');
    expect(await c.send('RCPT TO:<alice@example.org>')).toMatch(/^452 4\.2\.2 <alice@example\.org>: mailbox full/);
    c.close();
  }, 30_000);
});
