// limits.tls_handshake_timeout in `homing start`: a client that opens 465 (implicit TLS) or says
// STARTTLS on 587 and then sends nothing is cut at the limit, and the server's own log has one
// `smtp tls-handshake-timeout` line per cut, in the event-line shape, with the client's address as
// the first field, which the shipped fail2ban filter matches. A real client is not affected.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect as connectNet, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventLine } from '../../src/server/observability/log-line-format';
import { FAIL2BAN_FILTER, fail2banMissing, findFail2banRegex } from '../observability/fail2ban-regex';
import { cleanUp, type HomingServer, startHoming } from '../server/harness';
import { converse, python } from '../server/smtp-talk';

const run = promisify(execFile);
const LIMIT_MS = 600;

/** A connection from `localAddress` that sends nothing more; resolves how long the server kept it open. */
function silentFor(socket: Socket): Promise<number> {
  const since = performance.now();
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve(performance.now() - since)));
}

describe('limits.tls_handshake_timeout', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({ extraConfig: `limits:\n  tls_handshake_timeout: ${LIMIT_MS}ms` });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('cuts a silent handshake on 465 at the limit and logs the address', async () => {
    const socket = connectNet({ host: '127.0.0.1', port: server.submissionsPort, localAddress: '127.0.0.21' });
    await new Promise((resolve) => socket.once('connect', resolve));
    const open = await silentFor(socket);
    expect(open).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(open).toBeLessThan(LIMIT_MS + 5000);
    const line = await server.waitForLine(/ smtp tls-handshake-timeout address=127\.0\.0\.21 /, 5000);
    expect(line).toMatch(/ tls=implicit /);
    expect(parseEventLine(line).ok).toBe(true);
  });

  it('cuts a silent handshake after STARTTLS on 587 at the limit and logs the address', async () => {
    const session = await converse(server.submissionPort, '127.0.0.22');
    await session.send('EHLO laptop.test');
    expect(await session.send('STARTTLS')).toMatch(/^220 /);
    const open = await silentFor(session.socket);
    expect(open).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(open).toBeLessThan(LIMIT_MS + 5000);
    const line = await server.waitForLine(/ smtp tls-handshake-timeout address=127\.0\.0\.22 /, 5000);
    expect(line).toMatch(/ tls=starttls /);
    expect(parseEventLine(line).ok).toBe(true);
    // The same session id as the session's other lines (its `connected` line).
    const id = line.split(' ')[0];
    expect(server.lines().some((l) => l.startsWith(`${id} smtp connected address=127.0.0.22`))).toBe(true);
  });

  it('lets a real client through on 587 and 465', async () => {
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test", context=ctx)',
      's.login("alice@example.org", "alice-password"); print(s.noop()[0]); s.quit()',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), local_hostname="laptop.test"); s.starttls(context=ctx)',
      's.login("alice@example.org", "alice-password"); print(s.noop()[0]); s.quit()',
    ].join('\n');
    const out = await python(script, [String(server.submissionsPort), String(server.submissionPort)]);
    expect(out.trim().split('\n')).toEqual(['250', '250']);
  });

  const missing = fail2banMissing();
  it.skipIf(missing !== undefined)(
    'has each cut counted by the shipped fail2ban filter, with its client address',
    async () => {
      const lines = server.lines().filter((l) => / smtp tls-handshake-timeout /.test(l));
      expect(lines.length).toBeGreaterThanOrEqual(2);
      const file = join(server.dir, 'handshake.log');
      writeFileSync(file, `${server.lines().join('\n')}\n`);
      const { stdout } = await run(findFail2banRegex()!, ['-o', 'ip', file, FAIL2BAN_FILTER]);
      expect(stdout.split('\n').filter((l) => l !== '')).toEqual(['127.0.0.21', '127.0.0.22']);
    },
  );
  if (missing !== undefined) console.log(`skipping the fail2ban-regex case: ${missing}`);
});
