import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostfixServer, startPostfix } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventLine } from '../../src/server/observability/log-line-format';
import { fail2banMissing, runFail2banRegex } from '../observability/fail2ban-regex';
import { cleanUp, type HomingServer, startHoming } from './harness';
import { converse, swaksTo } from './smtp-talk';

describe('homing start: its own log, read by people, scripts and fail2ban', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming();
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('prints only lines of the documented shape, whatever clients send', async () => {
    // Things a client controls, with bytes that must not break or forge a line.
    const c = await converse(server.mxPort);
    await c.send('EHLO evil.test');
    await c.send('MAIL FROM:<a@sender.test>');
    await c.send('RCPT TO:<"x\\" address=10.0.0.1"@elsewhere.test>');
    await c.send('AUTH LOGIN');
    await c.send('VRFY root\u0000 address=10.0.0.2');
    await c.send('BOGUS address=10.0.0.3');
    c.close();
    await swaksTo(server.mxPort, 'alice@example.org');
    await server.waitForLine(/ delivery local to=<alice@example\.org>/);
    const lines = server.lines().filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const parsed = parseEventLine(line);
      expect(parsed.ok, `${line}: ${parsed.ok ? '' : parsed.reason}`).toBe(true);
    }
    // No line lets a client's text pose as the address field.
    expect(lines.some((l) => / address=10\.0\.0\.[123](?: |$)/.test(l))).toBe(false);
  }, 30_000);

  it('feeds fail2ban: its filter matches the failed AUTH and failed command lines and nothing else', async () => {
    const missing = fail2banMissing();
    if (missing) {
      console.warn(`skipped: ${missing}`);
      return;
    }
    const c = await converse(server.mxPort, '127.0.0.21');
    await c.send('EHLO prober.test');
    await c.send('AUTH LOGIN');
    await c.send('MAIL FROM:<a@sender.test>');
    await c.send('RCPT TO:<victim@elsewhere.test>');
    c.close();
    await server.waitForLine(/ address=127\.0\.0\.21 .*result="550 5\.7\.1/);
    const dir = mkdtempSync(join(tmpdir(), 'homing-f2b-'));
    try {
      const logFile = join(dir, 'homing.log');
      const lines = server.lines();
      writeFileSync(logFile, `${lines.join('\n')}\n`);
      const result = await runFail2banRegex(logFile);
      // 4xx refusals never count (a DNS outage must not ban real senders); 5xx and failed AUTH do.
      const failing = lines.filter((l) => / smtp (?:failed-command .*result="5|auth-failed )/.test(l));
      expect(failing.length).toBeGreaterThanOrEqual(2);
      expect(result.matched).toBe(failing.length);
      expect(result.addresses).toEqual(failing.map((l) => /address=(\S+)/.exec(l)?.[1]));
      expect(result.addresses.filter((a) => a === '127.0.0.21')).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('homing start: a real Postfix relays to us', () => {
  let server: HomingServer;
  let postfix: PostfixServer | undefined;
  beforeAll(async () => {
    server = await startHoming();
    if (process.getuid?.() === 0) {
      postfix = await startPostfix({
        relayPort: server.mxPort,
        hold: '/^X-Hold-Never-Matches:/',
        hostname: 'mail.sender.test',
      });
    }
  }, 60_000);
  afterAll(async () => {
    await postfix?.stop();
    await cleanUp(server);
  });

  it('takes a message Postfix relays, into the Maildir', async () => {
    if (!postfix) {
      if (process.env.CI) throw new Error('Postfix needs root');
      console.warn('skipped: a throw-away Postfix needs root');
      return;
    }
    const before = server.maildir('alice@example.org');
    const result = await swaksTo(postfix.port, 'alice@example.org', [
      '--header',
      'Subject: via postfix',
      '--body',
      'relayed by postfix',
    ]);
    expect(result.output).toMatch(/<[-~] +250 /);
    const text = await server.waitForNew('alice@example.org', before, 'INBOX', 30_000);
    expect(text).toContain('relayed by postfix');
    expect(text).toMatch(/Received: from mail\.sender\.test \(mail\.sender\.test \[127\.0\.0\.1\]\)/);
    expect(postfix.log()).toMatch(/status=sent \(250 2\.0\.0 Ok: queued as /);
  }, 60_000);
});
