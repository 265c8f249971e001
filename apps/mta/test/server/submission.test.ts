import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, type HomingServer, startHoming } from './harness';
import { converse, python, swaks } from './smtp-talk';

// Submission on 587 (STARTTLS, then AUTH) and 465 (implicit TLS): users of the users file,
// throttled failures, and no sending as somebody else.
describe('homing start: submission', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({
      users: [
        { address: 'alice@example.org', password: 'alice-password' },
        { address: 'bob@example.org', password: 'bob-password' },
      ],
      extraConfig:
        'aliases: { "sales@example.org": alice@example.org, "team@example.org": [alice@example.org, bob@example.org] }',
    });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('does not offer AUTH on 587 before STARTTLS, and refuses MAIL without it', async () => {
    const c = await converse(server.submissionPort);
    const ehlo = await c.send('EHLO laptop.test');
    expect(ehlo).toMatch(/STARTTLS/);
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await c.send('AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNlLXBhc3N3b3Jk')).toMatch(/^538 5\.7\.11 /);
    expect(await c.send('MAIL FROM:<alice@example.org>')).toMatch(/^530 5\.7\.0 /);
    c.close();
  }, 15_000);

  it('takes a message from Python smtplib on 587 after STARTTLS and AUTH, and delivers it locally', async () => {
    const before = server.maildir('bob@example.org');
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test")',
      's.starttls(context=ctx); s.login("alice@example.org", "alice-password")',
      'msg = "From: Alice <alice@example.org>\\r\\nTo: bob@example.org\\r\\nSubject: from alice\\r\\n\\r\\nhi bob\\r\\n"',
      'print(s.sendmail("alice@example.org", ["bob@example.org"], msg)); s.quit()',
    ].join('\n');
    expect((await python(script, [String(server.submissionPort)])).trim()).toBe('{}');
    const text = await server.waitForNew('bob@example.org', before);
    expect(text).toContain('with ESMTPSA');
    // RFC 6409 8: the MSA adds what the client left out.
    expect(text).toMatch(/\r\nDate: /);
    expect(text).toMatch(/\r\nMessage-ID: <[0-9a-f]+@mx\.example\.org>/);
  }, 20_000);

  it('takes a message from swaks on 465 with implicit TLS, sent as an alias of the user', async () => {
    const before = server.maildir('bob@example.org');
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
      'sales@example.org',
      '--to',
      'bob@example.org',
      '--header',
      'From: sales@example.org',
      '--header',
      'Subject: from sales',
      '--body',
      'an offer',
    ]);
    expect(result.output).toMatch(/<[-~] +250 2\.0\.0 Ok: queued as /);
    expect(await server.waitForNew('bob@example.org', before)).toContain('an offer');
  }, 20_000);

  it('refuses sending as somebody else, in MAIL FROM and in From:', async () => {
    // As alice, on 465: each case changes only the envelope sender or the header.
    const asAlice = (extra: string[]) =>
      swaks([
        ...['--server', '127.0.0.1', '--port', String(server.submissionsPort), '--tlsc', '--auth', 'PLAIN'],
        ...['--auth-user', 'alice@example.org', '--auth-password', 'alice-password', '--to', 'bob@example.org'],
        ...extra,
      ]);
    const asBob = await asAlice(['--from', 'bob@example.org']);
    expect(asBob.output).toMatch(
      /<[-~]?\*+ +550 5\.7\.1 <bob@example\.org>: sender address not owned by user alice@example\.org/,
    );
    const headerBob = await asAlice(['--from', 'alice@example.org', '--header', 'From: Bob <bob@example.org>']);
    expect(headerBob.output).toMatch(
      /<[-~]?\*+ +550 5\.7\.1 From <bob@example\.org> is not an address of alice@example\.org/,
    );
    // An alias with two targets belongs to neither.
    const asTeam = await asAlice(['--from', 'team@example.org']);
    expect(asTeam.output).toMatch(/<[-~]?\*+ +550 5\.7\.1 /);
    await server.waitForLine(
      / smtp sender-refused address=127\.0\.0\.1 user=alice@example\.org from=<bob@example\.org>/,
    );
  }, 30_000);

  it('throttles ten wrong passwords from one address, logs them, and still lets the right password in from another', async () => {
    const script = [
      'import smtplib, ssl, sys, time',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      'codes = []',
      'for i in range(11):',
      '    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="attacker.test", source_address=("127.0.0.9", 0))',
      '    s.starttls(context=ctx)',
      '    try:',
      '        s.ehlo(); s.user, s.password = "bob@example.org", "guess%d" % i',
      '        s.auth("PLAIN", s.auth_plain)',
      '        codes.append(235)',
      '    except smtplib.SMTPAuthenticationError as e:',
      '        codes.append(e.smtp_code)',
      '    s.close()',
      'print(" ".join(map(str, codes)))',
    ].join('\n');
    const codes = (await python(script, [String(server.submissionPort)])).trim().split(' ').map(Number);
    expect(codes.slice(0, 9)).toEqual(Array(9).fill(535));
    // The tenth failure blocks the address; the eleventh attempt is refused without a check.
    expect(codes.slice(9)).toEqual([454, 454]);
    await server.waitForLine(/ smtp auth-failed address=127\.0\.0\.9 user=bob@example\.org mechanism=/);
    const good = await swaks([
      '--server',
      '127.0.0.1',
      '--port',
      String(server.submissionsPort),
      '--tlsc',
      '--local-interface',
      '127.0.0.10',
      '--auth',
      'PLAIN',
      '--auth-user',
      'bob@example.org',
      '--auth-password',
      'bob-password',
      '--from',
      'bob@example.org',
      '--to',
      'alice@example.org',
      '--header',
      'From: bob@example.org',
    ]);
    expect(good.output).toMatch(/<[-~] +235 2\.7\.0 /);
    expect(good.output).toMatch(/<[-~] +250 2\.0\.0 Ok: queued as /);
  }, 60_000);
});
