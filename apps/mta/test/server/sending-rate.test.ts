import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, type HomingServer, startHoming } from './harness';
import { python } from './smtp-talk';

// limits.send_rate (issue 14): an authenticated user's messages per window, counted across 587
// and 465; beyond it MAIL gets 450 4.7.1 and the event log says so.

/** smtplib: AUTH on 587 (STARTTLS) or 465 (TLS), one message to alice herself; prints the MAIL refusal or {}. */
const SCRIPT = [
  'import smtplib, ssl, sys, json',
  'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
  'port = int(sys.argv[1])',
  'if sys.argv[2] == "465":',
  '    s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="laptop.test", context=ctx)',
  'else:',
  '    s = smtplib.SMTP("127.0.0.1", port, local_hostname="laptop.test"); s.starttls(context=ctx)',
  's.login("alice@example.org", "alice-password")',
  'msg = "From: alice@example.org\\r\\nTo: alice@example.org\\r\\nSubject: " + sys.argv[3] + "\\r\\n\\r\\nHi.\\r\\n"',
  'try:',
  '    print(json.dumps(s.sendmail("alice@example.org", ["alice@example.org"], msg)))',
  'except smtplib.SMTPSenderRefused as e:',
  '    print(json.dumps({"code": e.smtp_code, "text": e.smtp_error.decode()}))',
  's.quit()',
].join('\n');

describe('limits.send_rate on submission', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({ extraConfig: 'limits:\n  send_rate: 2/h' });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('takes 2 messages an hour from alice over 587 and 465, then answers MAIL 450 4.7.1 and logs it', async () => {
    const send = async (port: number, kind: string, subject: string) =>
      JSON.parse(await python(SCRIPT, [String(port), kind, subject]));
    expect(await send(server.submissionPort, '587', 'one')).toEqual({});
    expect(await send(server.submissionsPort, '465', 'two')).toEqual({});
    const refused = await send(server.submissionPort, '587', 'three');
    expect(refused.code).toBe(450);
    expect(refused.text).toMatch(/^4\.7\.1 Sending rate of 2\/h exceeded for alice@example\.org/);
    const line = await server.waitForLine(/ smtp send-rate-exceeded /, 5000);
    expect(line).toMatch(/user=alice@example\.org/);
    expect(line).toMatch(/rate=2\/h/);
  }, 30_000);
});
