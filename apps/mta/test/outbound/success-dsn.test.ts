import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimpyVerify, freePort } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseZones, cleanUp, type HomingServer, startHoming } from '../server/harness';
import { converse, python } from '../server/smtp-talk';
import { dumpedMessage, type Sink, startSink } from './sinks';

// NOTIFY=SUCCESS end to end (RFC 3461 6.2.1), through a real `homing start`: a local delivery
// gives the sender a "delivered" report in their Maildir; a next hop without DSN (smtp-sink -N)
// a "relayed" one; a next hop with DSN (smtp-sink) gets NOTIFY and ORCPT, typed, and we say
// nothing; NOTIFY=NEVER says nothing at all, and SUCCESS alone sends no failure report.

function zones() {
  return {
    ...baseZones(),
    net: { SOA: { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 } },
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
    'mx.example.net': { A: ['127.0.0.1'] },
    'nodsn.test': { MX: [{ priority: 10, exchange: 'mx.nodsn.test' }] },
    'mx.nodsn.test': { A: ['127.0.0.4'] },
    'refusing.test': { MX: [{ priority: 10, exchange: 'mx.refusing.test' }] },
    'mx.refusing.test': { A: ['127.0.0.2'] },
    // A remote sender's domain, its MX a sink: reports to it leave through the outbound worker.
    'sender.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'], MX: [{ priority: 10, exchange: 'mx.sender.test' }] },
    'mx.sender.test': { A: ['127.0.0.5'] },
  };
}

/** Python smtplib on 587: STARTTLS, AUTH as alice, one message with the given MAIL/RCPT options. */
function send(server: HomingServer, to: string, subject: string, mail: string[], rcpt: string[]) {
  const script = [
    'import smtplib, ssl, sys',
    'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
    's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test")',
    's.starttls(context=ctx); s.login("alice@example.org", "alice-password")',
    'msg = "From: Alice <alice@example.org>\\r\\nTo: " + sys.argv[2] + "\\r\\nSubject: " + sys.argv[3] + "\\r\\n\\r\\nHello from Alice.\\r\\nBody line not returned\\r\\n"',
    `print(s.sendmail("alice@example.org", [sys.argv[2]], msg, ${JSON.stringify(mail)}, ${JSON.stringify(rcpt)})); s.quit()`,
  ].join('\n');
  return python(script, [String(server.submissionPort), to, subject]);
}

interface ParsedReport {
  type: string;
  report: string | null;
  parts: string[];
  status: string;
  headers: string;
  subject: string;
  autoSubmitted: string;
  from: string;
}

/** Python's `email` reads a report in a Maildir: its parts, the status blocks, the quoted headers. */
async function readReport(server: HomingServer, address: string, file: string): Promise<ParsedReport> {
  const [local, domain] = address.split('@') as [string, string];
  const out = await python(
    [
      'import email, sys, json',
      'm = email.message_from_binary_file(open(sys.argv[1], "rb"))',
      'parts = [p.get_content_type() for p in m.walk()]',
      'status = [p for p in m.walk() if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")][0]',
      'payload = status.get_payload()',
      'text = b"\\n\\n".join(b.as_bytes() for b in payload).decode("utf-8") if isinstance(payload, list) else payload',
      'headers = [p for p in m.walk() if p.get_content_type() == "text/rfc822-headers"][0].get_payload()',
      'print(json.dumps({"type": m.get_content_type(), "report": m.get_param("report-type"), "parts": parts, "status": text, "headers": headers, "subject": m["Subject"], "autoSubmitted": m["Auto-Submitted"], "from": m["From"]}))',
    ].join('\n'),
    [join(server.state, 'mail', domain, local, 'new', file)],
  );
  return JSON.parse(out) as ParsedReport;
}

/** The new files in a Maildir since `before`, after waiting long enough for a report to arrive. */
async function quietFor(server: HomingServer, address: string, before: readonly string[], ms = 1500) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return server.maildir(address).filter((file) => !before.includes(file));
}

describe('homing start: success DSNs (NOTIFY=SUCCESS)', () => {
  let server: HomingServer;
  let withDsn: Sink;
  let withoutDsn: Sink;
  let refusing: Sink;
  let remoteSender: Sink;
  beforeAll(async () => {
    const port = await freePort();
    [withDsn, withoutDsn, refusing, remoteSender] = await Promise.all([
      startSink('127.0.0.1', port),
      startSink('127.0.0.4', port, ['-N']),
      startSink('127.0.0.2', port, ['-f', 'RCPT', '-B', '550 5.1.1 No such user here']),
      startSink('127.0.0.5', port),
    ]);
    server = await startHoming({
      zones: zones(),
      users: [
        { address: 'alice@example.org', password: 'alice-password' },
        { address: 'bob@example.org', password: 'bob-password' },
        { address: 'carol@example.org', password: 'carol-password' },
      ],
      extraConfig: [
        `remote_port: ${port}`,
        'aliases: { "team@example.org": [bob@example.org, carol@example.org], "b@example.org": bob@example.org, "fwd@example.org": dora@nodsn.test }',
      ].join('\n'),
    });
  }, 30_000);
  afterAll(async () => {
    await cleanUp(server);
    await Promise.all([withDsn, withoutDsn, refusing, remoteSender].map((sink) => sink?.stop()));
  });

  it('puts a "delivered" report in the sender Maildir for a local recipient, with the Original-Recipient', async () => {
    const before = server.maildir('alice@example.org');
    const bobBefore = server.maildir('bob@example.org');
    const out = await send(
      server,
      'bob@example.org',
      'local success',
      ['ENVID=trip-1', 'RET=FULL'],
      ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;Bob@Example.org'],
    );
    expect(out.trim()).toBe('{}');
    await server.waitForNew('bob@example.org', bobBefore);
    await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const fresh = await quietFor(server, 'alice@example.org', before);
    expect(fresh).toHaveLength(1);
    const report = await readReport(server, 'alice@example.org', fresh[0]!);
    expect(report.type).toBe('multipart/report');
    expect(report.report).toBe('delivery-status');
    expect(report.parts).toEqual([
      'multipart/report',
      'text/plain',
      'message/delivery-status',
      'text/plain', // Python reads each status block as a text/plain sub-message
      'text/plain',
      'text/rfc822-headers',
    ]);
    expect(report.subject).toBe('Successful Mail Delivery Report');
    expect(report.autoSubmitted).toBe('auto-replied');
    expect(report.from).toBe('Mail Delivery System <MAILER-DAEMON@mx.example.org>');
    expect(report.status).toMatch(/Original-Envelope-Id: trip-1/);
    expect(report.status).toMatch(
      /Original-Recipient: rfc822; Bob@Example\.org\nFinal-Recipient: rfc822; bob@example\.org\nAction: delivered\nStatus: 2\.0\.0/,
    );
    // RFC 3461 4.3: a report with no failure quotes the headers only, even for RET=FULL.
    expect(report.headers).toMatch(/Subject: local success/);
    expect(report.headers).not.toMatch(/Body line not returned/);
  }, 30_000);

  it('keeps a utf-8 ORCPT (RFC 6533) into the report, as message/global-delivery-status', async () => {
    const before = server.maildir('alice@example.org');
    // utf-8-addr-xtext on the wire: the client does not use SMTPUTF8.
    const out = await send(
      server,
      'bob+tag@example.org',
      'utf-8 orcpt',
      [],
      ['NOTIFY=SUCCESS', 'ORCPT=utf-8;b\\x{F6}b@example.org'],
    );
    expect(out.trim()).toBe('{}');
    await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const fresh = await quietFor(server, 'alice@example.org', before);
    expect(fresh).toHaveLength(1);
    const report = await readReport(server, 'alice@example.org', fresh[0]!);
    expect(report.parts).toContain('message/global-delivery-status');
    expect(report.status).toMatch(
      /Original-Recipient: utf-8; böb@example\.org\nFinal-Recipient: rfc822; bob@example\.org\nAction: delivered/,
    );
  }, 30_000);

  it('reports an alias that expands to several targets once, as "expanded", and not each target', async () => {
    const before = server.maildir('alice@example.org');
    const [bobBefore, carolBefore] = [server.maildir('bob@example.org'), server.maildir('carol@example.org')];
    const out = await send(
      server,
      'team@example.org',
      'to the team',
      [],
      ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;Team@Example.org'],
    );
    expect(out.trim()).toBe('{}');
    await server.waitForNew('bob@example.org', bobBefore);
    await server.waitForNew('carol@example.org', carolBefore);
    await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const fresh = await quietFor(server, 'alice@example.org', before);
    expect(fresh).toHaveLength(1);
    const report = await readReport(server, 'alice@example.org', fresh[0]!);
    expect(report.status).toMatch(
      /Original-Recipient: rfc822; Team@Example\.org\nFinal-Recipient: rfc822; team@example\.org\nAction: expanded\nStatus: 2\.0\.0/,
    );
    expect(report.status).not.toMatch(/Action: delivered/);
  }, 30_000);

  it('reports an alias of one target as that target "delivered" (no expansion)', async () => {
    const before = server.maildir('alice@example.org');
    expect((await send(server, 'b@example.org', 'one target', [], ['NOTIFY=SUCCESS'])).trim()).toBe('{}');
    await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const fresh = await quietFor(server, 'alice@example.org', before);
    expect(fresh).toHaveLength(1);
    const report = await readReport(server, 'alice@example.org', fresh[0]!);
    expect(report.status).toMatch(/Final-Recipient: rfc822; bob@example\.org\nAction: delivered/);
  }, 30_000);

  it('puts a "relayed" report in the sender Maildir when the next hop does not offer DSN', async () => {
    const before = server.maildir('alice@example.org');
    const sunk = withoutDsn.messages().length;
    const out = await send(
      server,
      'carol@nodsn.test',
      'relayed',
      [],
      ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;Carol@NoDsn.test'],
    );
    expect(out.trim()).toBe('{}');
    const dumps = await withoutDsn.waitForMessages(sunk + 1);
    const dump = dumps.find((text) => text.includes('Subject: relayed'))!;
    // RFC 3461 5.2: no DSN parameter to a server that does not offer DSN.
    expect(dump).toMatch(/^X-Rcpt-Args: <carol@nodsn\.test>$/m);
    await server.waitForNew('alice@example.org', before, undefined, 15_000);
    const fresh = await quietFor(server, 'alice@example.org', before);
    expect(fresh).toHaveLength(1);
    const report = await readReport(server, 'alice@example.org', fresh[0]!);
    expect(report.type).toBe('multipart/report');
    expect(report.status).toMatch(
      /Original-Recipient: rfc822; Carol@NoDsn\.test\nFinal-Recipient: rfc822; carol@nodsn\.test\nAction: relayed\nStatus: 2\.0\.0\nRemote-MTA: dns; mx\.nodsn\.test\nDiagnostic-Code: smtp; 250 2\.0\.0 Ok/,
    );
    expect(report.headers).toMatch(/Subject: relayed/);
  }, 30_000);

  it('sends no report when the next hop offers DSN, and passes NOTIFY and the typed ORCPT on', async () => {
    const before = server.maildir('alice@example.org');
    const sunk = withDsn.messages().length;
    const out = await send(
      server,
      'dan@example.net',
      'dsn onwards',
      [],
      ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=utf-8;d\\x{E4}n@example.net'],
    );
    expect(out.trim()).toBe('{}');
    const dumps = await withDsn.waitForMessages(sunk + 1);
    const dump = dumps.find((text) => text.includes('Subject: dsn onwards'))!;
    // This smtp-sink offers no SMTPUTF8: the 7-bit utf-8-addr-xtext form (RFC 6533 3), the type kept.
    expect(dump).toMatch(
      /^X-Rcpt-Args: <dan@example\.net> NOTIFY=SUCCESS,FAILURE ORCPT=utf-8;d\\x\{E4\}n@example\.net$/m,
    );
    await server.waitForLine(/ outbound delivered .*to=<dan@example\.net>/, 15_000);
    expect(await quietFor(server, 'alice@example.org', before)).toEqual([]);
  }, 30_000);

  it('sends nothing for NOTIFY=NEVER, locally or relayed', async () => {
    const before = server.maildir('alice@example.org');
    const bobBefore = server.maildir('bob@example.org');
    expect((await send(server, 'bob@example.org', 'never local', [], ['NOTIFY=NEVER'])).trim()).toBe('{}');
    expect((await send(server, 'erin@nodsn.test', 'never relayed', [], ['NOTIFY=NEVER'])).trim()).toBe('{}');
    await server.waitForNew('bob@example.org', bobBefore);
    await server.waitForLine(/ outbound delivered .*to=<erin@nodsn\.test>/, 15_000);
    expect(await quietFor(server, 'alice@example.org', before)).toEqual([]);
  }, 30_000);

  it('sends no failure report for NOTIFY=SUCCESS alone', async () => {
    const before = server.maildir('alice@example.org');
    expect((await send(server, 'fay@refusing.test', 'success only', [], ['NOTIFY=SUCCESS'])).trim()).toBe('{}');
    await server.waitForLine(/ outbound failed .*to=<fay@refusing\.test>/, 15_000);
    expect(await quietFor(server, 'alice@example.org', before)).toEqual([]);
  }, 30_000);

  it('sends a remote sender of mail received on the MX its "delivered" report, DKIM-signed', async () => {
    // Publish the key generated on first start, as the operator would.
    const txt = readFileSync(join(server.state, 'dkim', 'example.org.homing.txt'), 'utf8');
    server.dns.setZones({
      ...zones(),
      'homing._domainkey.example.org': { TXT: [[...txt.matchAll(/"([^"]*)"/g)].map((m) => m[1]!)] },
    });
    const sunk = remoteSender.messages().length;
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    expect(await c.send('MAIL FROM:<carl@sender.test> ENVID=mx-1')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<bob@example.org> NOTIFY=SUCCESS ORCPT=rfc822;Bob@example.org')).toMatch(/^250/);
    expect(await c.send('DATA')).toMatch(/^354/);
    expect(await c.send('From: carl@sender.test\r\nSubject: from afar\r\n\r\nhi\r\n.')).toMatch(/^250/);
    c.close();
    const dumps = await remoteSender.waitForMessages(sunk + 1, 15_000);
    const dump = dumps.find((text) => text.includes('Original-Envelope-Id: mx-1'))!;
    expect(dump).toMatch(/^X-Mail-Args: <>/m);
    expect(dump).toMatch(/^X-Rcpt-Args: <carl@sender\.test>/m);
    const message = dumpedMessage(dump);
    expect(message).toMatch(/Original-Envelope-Id: mx-1\r\n/);
    expect(message).toMatch(
      /Original-Recipient: rfc822; Bob@example\.org\r\nFinal-Recipient: rfc822; bob@example\.org\r\nAction: delivered\r\n/,
    );
    // Under the sink's own Received.
    expect(message).toMatch(
      /^Received: [\s\S]*?\r\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.org;/,
    );
    expect(await dkimpyVerify(server.dns.address, message)).toEqual({ ok: true, error: null });
  }, 30_000);

  it('sends the remote sender of a forwarded copy its "relayed" report, back through SRS', async () => {
    const sunk = remoteSender.messages().length;
    const forwarded = withoutDsn.messages().length;
    const c = await converse(server.mxPort);
    await c.send('EHLO mail.sender.test');
    expect(await c.send('MAIL FROM:<carl@sender.test>')).toMatch(/^250/);
    expect(await c.send('RCPT TO:<fwd@example.org> NOTIFY=SUCCESS ORCPT=rfc822;fwd@example.org')).toMatch(/^250/);
    expect(await c.send('DATA')).toMatch(/^354/);
    expect(await c.send('From: carl@sender.test\r\nSubject: to be forwarded\r\n\r\nhi\r\n.')).toMatch(/^250/);
    c.close();
    const copies = await withoutDsn.waitForMessages(forwarded + 1, 15_000);
    // The dumps are in file-name order, not arrival order: found by subject.
    expect(copies.find((text) => text.includes('Subject: to be forwarded'))).toMatch(/^X-Mail-Args: <SRS0=/m);
    const dumps = await remoteSender.waitForMessages(sunk + 1, 15_000);
    const dump = dumps.find((text) => text.includes('Final-Recipient: rfc822; dora@nodsn.test'))!;
    expect(dump).toMatch(/^X-Rcpt-Args: <carl@sender\.test>/m);
    expect(dumpedMessage(dump)).toMatch(
      /Original-Recipient: rfc822; fwd@example\.org\r\nFinal-Recipient: rfc822; dora@nodsn\.test\r\nAction: relayed\r\n/,
    );
  }, 30_000);
});
