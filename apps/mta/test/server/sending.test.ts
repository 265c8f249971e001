import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dkimpyVerify, freePort } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpedMessage, type Sink, startSink } from '../outbound/sinks';
import { baseZones, cleanUp, type HomingServer, startHoming } from './harness';
import { converse, python, swaks } from './smtp-talk';

// Sending (issue 14): authenticated users send to remote domains served by Postfix's smtp-sink on
// loopback; the mail arrives DKIM-signed with the key generated on first start, and what the
// remote refuses comes back as a DSN in the sender's Maildir.

function zones() {
  return {
    ...baseZones(),
    net: { SOA: { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 } },
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
    'mx.example.net': { A: ['127.0.0.1'] },
    'refusing.test': { MX: [{ priority: 10, exchange: 'mx.refusing.test' }] },
    'mx.refusing.test': { A: ['127.0.0.2'] },
    'busy.test': { MX: [{ priority: 10, exchange: 'mx.busy.test' }] },
    'mx.busy.test': { A: ['127.0.0.3'] },
  };
}

/** Python smtplib on 587: STARTTLS, AUTH, then one message with the given MAIL/RCPT options. */
function smtplibScript(mailOptions: string[] = [], rcptOptions: string[] = []): string {
  return [
    'import smtplib, ssl, sys',
    'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
    's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test")',
    's.starttls(context=ctx); s.login("alice@example.org", "alice-password")',
    'msg = "From: Alice <alice@example.org>\\r\\nTo: " + sys.argv[2] + "\\r\\nSubject: " + sys.argv[3] + "\\r\\n\\r\\nHello from Alice.\\r\\n"',
    `print(s.sendmail("alice@example.org", [sys.argv[2]], msg, ${JSON.stringify(mailOptions)}, ${JSON.stringify(rcptOptions)})); s.quit()`,
  ].join('\n');
}

const run = promisify(execFile);
const HOMING = join(import.meta.dirname, '../../bin/homing.js');

describe('homing start: sending to other domains', () => {
  let server: HomingServer;
  let good: Sink;
  let refusing: Sink;
  let busy: Sink;
  beforeAll(async () => {
    const port = await freePort();
    [good, refusing, busy] = await Promise.all([
      startSink('127.0.0.1', port),
      startSink('127.0.0.2', port, ['-f', 'RCPT', '-B', '550 5.1.1 No such user here']),
      startSink('127.0.0.3', port, ['-r', 'RCPT', '-b', '451 4.3.0 Try again later']),
    ]);
    server = await startHoming({ zones: zones(), extraConfig: `remote_port: ${port}\ndkim: { ed25519: true }` });
  }, 30_000);
  afterAll(async () => {
    await cleanUp(server);
    await Promise.all([good, refusing, busy].map((sink) => sink?.stop()));
  });

  it('generates a DKIM key on first start, mode 600, with the TXT record beside it', () => {
    const key = join(server.state, 'dkim', 'example.org.homing.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const txt = readFileSync(join(server.state, 'dkim', 'example.org.homing.txt'), 'utf8');
    expect(txt).toMatch(/^homing\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]/);
    // Publish it, as the operator would.
    const strings = [...txt.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    // The extra Ed25519 key (dkim: { ed25519: true }) has its own selector and files.
    const edTxt = readFileSync(join(server.state, 'dkim', 'example.org.homing-ed25519.txt'), 'utf8');
    expect(edTxt).toMatch(/^homing-ed25519\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; p=/);
    const edStrings = [...edTxt.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    server.dns.setZones({
      ...zones(),
      'homing._domainkey.example.org': { TXT: [strings] },
      'homing-ed25519._domainkey.example.org': { TXT: [edStrings] },
    });
  });

  it('sends from smtplib on 587 (STARTTLS, AUTH) to a remote smtp-sink, signed so that dkimpy verifies it', async () => {
    const before = good.messages().length;
    const out = await python(smtplibScript(), [String(server.submissionPort), 'bob@example.net', 'over 587']);
    expect(out.trim()).toBe('{}');
    const dumps = await good.waitForMessages(before + 1);
    const dump = dumps.find((text) => text.includes('Subject: over 587'))!;
    expect(dump).toMatch(/X-Helo-Args: mx\.example\.org/);
    expect(dump).toMatch(/X-Rcpt-Args: <bob@example\.net>/);
    const message = dumpedMessage(dump);
    expect(message).toMatch(/DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.org;\s+s=homing;/);
    // The Date and Message-ID the MSA added are signed too.
    expect(message).toMatch(/\r\nMessage-ID: <[0-9a-f]+@mx\.example\.org>\r\n/);
    expect(await dkimpyVerify(server.dns.address, message)).toEqual({ ok: true, error: null });
    expect(message).toMatch(
      /DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example\.org;\s+s=homing-ed25519;/,
    );
    expect(await dkimpyVerify(server.dns.address, message, 1)).toEqual({ ok: true, error: null });
    // A changed body no longer verifies: the check can fail.
    const tampered = message.replace('Hello from Alice.', 'Hello from Mallory.');
    expect((await dkimpyVerify(server.dns.address, tampered)).ok).toBe(false);
    await server.waitForLine(/ outbound delivered .*to=<bob@example\.net>/);
  }, 30_000);

  it('passes the sender RET, ENVID, NOTIFY and ORCPT on to a next hop that offers DSN (smtp-sink)', async () => {
    const before = good.messages().length;
    const out = await python(
      smtplibScript(['RET=HDRS', 'ENVID=trip-7'], ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;Bob@Example.net']),
      [String(server.submissionPort), 'bob@example.net', 'dsn onwards'],
    );
    expect(out.trim()).toBe('{}');
    const dumps = await good.waitForMessages(before + 1);
    const dump = dumps.find((text) => text.includes('Subject: dsn onwards'))!;
    const mailArgs = /^X-Mail-Args: (.*)$/m.exec(dump)?.[1] ?? '';
    expect(mailArgs.split(' ')).toEqual(expect.arrayContaining(['RET=HDRS', 'ENVID=trip-7']));
    expect(dump).toMatch(/^X-Rcpt-Args: <bob@example\.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example\.net$/m);
  }, 30_000);

  it('sends from swaks on 465 (implicit TLS, AUTH LOGIN), signed', async () => {
    const before = good.messages().length;
    const result = await swaks([
      '--server',
      '127.0.0.1',
      '--port',
      String(server.submissionsPort),
      '--tlsc',
      '--auth',
      'LOGIN',
      '--auth-user',
      'alice@example.org',
      '--auth-password',
      'alice-password',
      '--from',
      'alice@example.org',
      '--to',
      'carol@example.net',
      '--header',
      'From: alice@example.org',
      '--header',
      'Subject: over 465',
      '--body',
      'a message over implicit TLS',
    ]);
    expect(result.output).toMatch(/<[-~] +250 2\.0\.0 Ok: queued as /);
    const dumps = await good.waitForMessages(before + 1);
    const message = dumpedMessage(dumps.find((text) => text.includes('Subject: over 465'))!);
    expect(await dkimpyVerify(server.dns.address, message)).toEqual({ ok: true, error: null });
  }, 30_000);

  it('refuses relaying to another domain on the MX without AUTH', async () => {
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    expect(await c.send('MAIL FROM:<someone@sender.test>')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<bob@example.net>')).toMatch(/^55\d 5\.7\.1 /);
    c.close();
  }, 15_000);

  it('puts a bounce for a remote 550 in the sender Maildir, a multipart/report with ENVID and ORCPT', async () => {
    const before = server.maildir('alice@example.org');
    const out = await python(
      smtplibScript(['ENVID=trip-42', 'RET=HDRS'], ['NOTIFY=FAILURE', 'ORCPT=rfc822;Dave@Refusing.test']),
      [String(server.submissionPort), 'dave@refusing.test', 'to be refused'],
    );
    expect(out.trim()).toBe('{}');
    const bounce = await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const parsed = await python(
      [
        'import email, sys, json',
        'm = email.message_from_string(sys.stdin.read()) if False else email.message_from_file(open(sys.argv[1]))',
        'parts = [p.get_content_type() for p in m.walk()]',
        'status = [p for p in m.walk() if p.get_content_type() == "message/delivery-status"][0]',
        'fields = [str(block) for block in status.get_payload()]',
        'headers = [p for p in m.walk() if p.get_content_type() == "text/rfc822-headers"][0].get_payload()',
        'print(json.dumps({"type": m.get_content_type(), "report": m.get_param("report-type"), "parts": parts, "status": fields, "headers": headers, "to": m["To"]}))',
      ].join('\n'),
      [
        join(
          server.state,
          'mail',
          'example.org',
          'alice',
          'new',
          server.maildir('alice@example.org').find((f) => !before.includes(f))!,
        ),
      ],
    );
    const report = JSON.parse(parsed);
    expect(report.type).toBe('multipart/report');
    expect(report.report).toBe('delivery-status');
    expect(report.parts).toContain('message/delivery-status');
    expect(report.status.join('\n')).toMatch(/Original-Envelope-Id: trip-42/);
    expect(report.status.join('\n')).toMatch(/Original-Recipient: rfc822; ?Dave@Refusing\.test/i);
    expect(report.status.join('\n')).toMatch(/Final-Recipient: rfc822; ?dave@refusing\.test/);
    expect(report.status.join('\n')).toMatch(/Status: 5\.1\.1/);
    expect(report.status.join('\n')).toMatch(/Diagnostic-Code: smtp; ?550 5\.1\.1 No such user here/);
    expect(report.headers).toMatch(/Subject: to be refused/);
    expect(bounce).toMatch(/^Return-Path: <>|\r\nFrom: /m);
  }, 30_000);

  it('returns the whole message (message/rfc822) in the bounce when the sender asked RET=FULL', async () => {
    const before = server.maildir('alice@example.org');
    const out = await python(smtplibScript(['RET=FULL'], ['NOTIFY=FAILURE']), [
      String(server.submissionPort),
      'gina@refusing.test',
      'return it all',
    ]);
    expect(out.trim()).toBe('{}');
    await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const file = server.maildir('alice@example.org').find((f) => !before.includes(f))!;
    const parsed = await python(
      [
        'import email, sys, json',
        'm = email.message_from_file(open(sys.argv[1]))',
        'inner = [p for p in m.walk() if p.get_content_type() == "message/rfc822"][0].get_payload()[0]',
        'print(json.dumps({"subject": inner["Subject"], "body": inner.get_payload()}))',
      ].join('\n'),
      [join(server.state, 'mail', 'example.org', 'alice', 'new', file)],
    );
    expect(JSON.parse(parsed)).toEqual({ subject: 'return it all', body: 'Hello from Alice.\n' });
  }, 30_000);

  it('sends no bounce when the sender asked NOTIFY=NEVER', async () => {
    const before = server.maildir('alice@example.org');
    const out = await python(smtplibScript([], ['NOTIFY=NEVER']), [
      String(server.submissionPort),
      'erin@refusing.test',
      'never tell me',
    ]);
    expect(out.trim()).toBe('{}');
    await server.waitForLine(/ outbound failed .*to=<erin@refusing\.test>/, 15_000);
    // The report would be queued in the same settle, and delivered locally within a poll.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.lines().filter((line) => / report-queued .*erin/.test(line))).toEqual([]);
    expect(server.maildir('alice@example.org')).toEqual(before);
  }, 30_000);

  it('defers a remote 451 on the retry schedule and delivers it once the remote takes it', async () => {
    const out = await python(smtplibScript(), [String(server.submissionPort), 'frank@busy.test', 'busy now']);
    expect(out.trim()).toBe('{}');
    const line = await server.waitForLine(/ outbound deferred .*to=<frank@busy\.test>/, 15_000);
    expect(line).toMatch(/451 4\.3\.0 Try again later/);
    const listed = JSON.parse(
      (await run(process.execPath, [HOMING, 'queue', 'list', '--config', server.configPath, '--json'])).stdout,
    ) as {
      messages: {
        id: string;
        recipients: { address: string; state: string; attempts: number; nextAttemptAt: number }[];
      }[];
    };
    const frank = listed.messages
      .flatMap((m) => m.recipients.map((r) => ({ ...r, id: m.id })))
      .find((r) => r.address === 'frank@busy.test')!;
    expect(frank).toMatchObject({ state: 'deferred', attempts: 1 });
    // The queue's first backoff: 300 s, with 10% jitter.
    expect(frank.nextAttemptAt - Date.now()).toBeGreaterThan(250_000);
    expect(frank.nextAttemptAt - Date.now()).toBeLessThan(340_000);
    // The remote recovers (a sink that takes mail on the same address), and the message is flushed.
    await busy.stop();
    busy = await startSink('127.0.0.3', busy.port);
    await run(process.execPath, [HOMING, 'queue', 'flush', frank.id, '--config', server.configPath]);
    const dumps = await busy.waitForMessages(1, 15_000);
    expect(dumps[0]).toMatch(/Subject: busy now/);
  }, 40_000);
});
