// The reflector end to end: a real `homing start` with `reflector: check@example.org`, mail sent
// to it with swaks (STARTTLS or plain), the report queued back to the envelope sender and
// delivered (the sender is a local user here, so local delivery carries it to a Maildir; to a
// remote sender the outbound worker does, which is the two-server test of `homing doctor --send`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, signMessage } from '@homing/dkim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReportMessage, type ReflectorReport } from '../../src/server/reflector/reflector-report';
import { baseZones, cleanUp, type HomingServer, startHoming } from '../server/harness';
import { swaks } from '../server/smtp-talk';

let server: HomingServer | undefined;
let dir = '';
const key = generateKey({ algorithm: 'rsa' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homing-reflector-'));
  const zones = baseZones();
  zones['example.org'] = { ...zones['example.org'], TXT: ['v=spf1 ip4:127.0.0.1 -all'] };
  zones['_dmarc.example.org'] = { TXT: ['v=DMARC1; p=reject'] };
  zones['sel._domainkey.example.org'] = { TXT: [key.record] };
  zones['_dmarc.sender.test'] = { TXT: ['v=DMARC1; p=reject'] };
  server = await startHoming({ zones, extraConfig: 'reflector: check@example.org' });
}, 30_000);

afterAll(async () => {
  await cleanUp(server);
  rmSync(dir, { recursive: true, force: true });
});

/** Sends `message` from alice@example.org to the reflector (and `others`), EHLO as the client's PTR name. */
async function send(message: string, options: { tls?: boolean; from?: string; to?: string[] } = {}) {
  const file = join(dir, `message-${Math.random().toString(36).slice(2)}.eml`);
  writeFileSync(file, message);
  const to = options.to ?? ['check@example.org'];
  return swaks([
    '--server',
    '127.0.0.1',
    '--port',
    String(server!.mxPort),
    '--ehlo',
    'mail.sender.test',
    '--from',
    options.from === '' ? '<>' : (options.from ?? 'alice@example.org'),
    '--to',
    to.join(','),
    '--data',
    `@${file}`,
    ...(options.tls ? ['--tls'] : []),
  ]);
}

function report(text: string): ReflectorReport {
  const parsed = parseReportMessage(text);
  expect(parsed, text).toBeDefined();
  return parsed!;
}

const status = (r: ReflectorReport) => Object.fromEntries(r.checks.map((check) => [check.name, check.status]));

describe('the reflector (reflector: check@DOMAIN)', () => {
  it('answers a signed message over STARTTLS with a report in which everything passes', async () => {
    const before = server!.maildir('alice@example.org');
    const message = [
      'From: Alice <alice@example.org>',
      'To: check@example.org',
      'Subject: test of my setup',
      'Date: Tue, 01 Dec 2026 10:00:00 +0000',
      'Message-ID: <test-1@example.org>',
      '',
      'Hello reflector.',
      '',
    ].join('\r\n');
    const signed = signMessage(message, {
      signatures: [{ domain: 'example.org', selector: 'sel', privateKey: key.privateKey }],
    });
    const sent = await send(signed.header + message, { tls: true });
    expect(sent.output).toMatch(/<[-~] {2}250 2\.0\.0 Ok: report queued as \w+/);
    const text = await server!.waitForNew('alice@example.org', before);
    expect(text).toMatch(/^Subject: Reflector report: SPF pass, DKIM pass, DMARC pass \(re: test of my setup\)$/m);
    expect(text).toMatch(/^Auto-Submitted: auto-replied$/m);
    expect(text).toMatch(/^In-Reply-To: <test-1@example\.org>$/m);
    const r = report(text);
    expect(status(r)).toEqual({
      spf: 'pass',
      dkim: 'pass',
      dmarc: 'pass',
      arc: 'none',
      fcrdns: 'pass',
      helo: 'pass',
      tls: 'pass',
      from: 'pass',
      'message-id': 'pass',
      date: 'pass',
      duplicates: 'pass',
    });
    expect(r.client).toEqual({ ip: '127.0.0.1', helo: 'mail.sender.test', ptr: ['mail.sender.test'], fcrdns: 'pass' });
    expect(r.envelope).toEqual({ from: 'alice@example.org', to: ['check@example.org'] });
    expect(server!.lines().some((line) => / reflector report-queued .*failed=none/.test(line))).toBe(true);
  });

  it('reports what is wrong instead of refusing: DMARC p=reject failing, plain text, a bad header', async () => {
    const before = server!.maildir('alice@example.org');
    // SPF passes for the envelope's example.org, which does not align with From's sender.test; no DKIM.
    const message = ['From: someone@sender.test', 'Subject: one', 'Subject: two', '', 'No date, no id.', ''].join(
      '\r\n',
    );
    const sent = await send(message);
    expect(sent.output, sent.output).toMatch(/<[-~] {2}250 2\.0\.0 Ok: report queued as/);
    const r = report(await server!.waitForNew('alice@example.org', before));
    expect(status(r)).toMatchObject({
      spf: 'pass',
      dkim: 'none',
      dmarc: 'fail',
      tls: 'fail',
      from: 'pass',
      'message-id': 'fail',
      date: 'fail',
      duplicates: 'fail',
    });
    expect(r.checks.find((check) => check.name === 'duplicates')?.message).toContain('more than one subject');
    expect(r.checks.find((check) => check.name === 'dmarc')?.message).toMatch(/^fail for sender\.test \(p=reject\)/);
  });

  it('queues the report to a remote envelope sender from the null sender, and the outbound worker takes it', async () => {
    const sent = await send('From: someone@sender.test\r\nSubject: remote\r\n\r\nx\r\n', {
      from: 'someone@sender.test',
    });
    const id = /Ok: report queued as (\w+)/.exec(sent.output)?.[1];
    expect(id, sent.output).toBeDefined();
    // The outbound worker takes it from the queue like any message (sender.test has no mail host here).
    const line = await server!.waitForLine(
      new RegExp(` outbound \\w+ queueid=${id} from=<> to=<someone@sender\\.test>`),
    );
    expect(line).toMatch(/ outbound (delivered|deferred|failed) /);
  });

  it('never answers the null sender, and accepts the message without a report', async () => {
    const before = server!.maildir('alice@example.org');
    const sent = await send('From: x@example.org\r\nSubject: bounce\r\n\r\nx\r\n', { from: '' });
    expect(sent.output).toMatch(/<[-~] {2}250 2\.0\.0 Ok: no report for the null sender/);
    await server!.waitForLine(/ reflector ignored from=<> reason=null-sender/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // (A report that could not be delivered may come to postmaster meanwhile; no reflector report does.)
    const fresh = server!.maildir('alice@example.org').filter((file) => !before.includes(file));
    const head = (file: string) => server!.readMail('alice@example.org', file).split(/\r?\n\r?\n/)[0] ?? '';
    const reports = fresh.filter((file) => /^X-Homing-Reflector: 1$/m.test(head(file)));
    expect(reports).toEqual([]);
  });

  it('never answers an automatic message (Auto-Submitted, RFC 3834)', async () => {
    const sent = await send('From: alice@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: ooo\r\n\r\nx\r\n');
    expect(sent.output).toMatch(/<[-~] {2}250 2\.0\.0 Ok: no report for an automatic message/);
  });

  it('delivers the message to the other recipients as usual, and reports to the sender', async () => {
    const before = server!.maildir('alice@example.org');
    const message = 'From: alice@example.org\r\nSubject: both\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nx\r\n';
    const sent = await send(message, { to: ['check@example.org', 'alice@example.org'] });
    expect(sent.output).toMatch(/<[-~] {2}250 2\.0\.0 Ok: queued as/);
    const files = await server!.waitForMail('alice@example.org', before.length + 2);
    const texts = files
      .filter((file) => !before.includes(file))
      .map((file) => server!.readMail('alice@example.org', file));
    expect(texts.filter((text) => /^Subject: both$/m.test(text))).toHaveLength(1);
    expect(texts.filter((text) => /^Subject: Reflector report:/m.test(text))).toHaveLength(1);
  });
});
