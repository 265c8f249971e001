import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFiles, freePort, type PostfixServer, startPostfix } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseZones, cleanUp, type HomingServer, startHoming } from './harness';
import { python } from './smtp-talk';

// Smarthost mode (`relay:`): everything goes to a throw-away Postfix that relays only for SASL-
// authenticated clients, its SASL answered by a throw-away Dovecot auth service (passwd-file) on
// loopback. Homing must STARTTLS, verify Postfix's certificate and AUTH before Postfix takes mail.

const hasDovecot = spawnSync('dovecot', ['--version'], { stdio: 'ignore' }).error === undefined;
const isRoot = process.getuid?.() === 0;
if (!hasDovecot || !isRoot) {
  console.log(
    `sending-relay.test.ts skipped: ${!hasDovecot ? 'dovecot not found (dovecot-core, .ci/install-peers.sh)' : 'Postfix needs root'}`,
  );
}

describe.skipIf(!hasDovecot || !isRoot)('homing start: relay through a smarthost with AUTH', () => {
  let dir: string;
  let dovecot: ChildProcess | undefined;
  let postfix: PostfixServer | undefined;
  let server: HomingServer | undefined;
  const cert = certificateFiles();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'homing-relay-'));
    chmodSync(dir, 0o755);
    const authPort = await freePort();
    writeFileSync(join(dir, 'passwd'), 'relayuser:{PLAIN}relay-secret\n');
    writeFileSync(
      join(dir, 'dovecot.conf'),
      [
        'protocols =',
        'listen = 127.0.0.1',
        `base_dir = ${dir}/run`,
        `state_dir = ${dir}/run`,
        'log_path = /dev/stderr',
        'ssl = no',
        'disable_plaintext_auth = no',
        'auth_mechanisms = plain login',
        `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${dir}/passwd\n}`,
        'userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=/nonexistent\n}',
        `service auth {\n  inet_listener {\n    address = 127.0.0.1\n    port = ${authPort}\n  }\n}`,
        '',
      ].join('\n'),
    );
    dovecot = spawn('dovecot', ['-c', join(dir, 'dovecot.conf'), '-F'], { stdio: ['ignore', 'ignore', 'pipe'] });
    postfix = await startPostfix({
      tls: { key: cert.key, cert: cert.cert },
      mainCf: [
        // Only authenticated clients may relay: loopback is not trusted here.
        'mynetworks =',
        'smtpd_relay_restrictions = permit_sasl_authenticated, reject',
        'smtpd_recipient_restrictions = permit_sasl_authenticated, reject',
        'smtpd_sasl_auth_enable = yes',
        'smtpd_sasl_type = dovecot',
        `smtpd_sasl_path = inet:127.0.0.1:${authPort}`,
        'smtpd_tls_auth_only = yes',
      ],
    });
    writeFileSync(join(dir, 'relay-password'), 'relay-secret\n', { mode: 0o600 });
    // Postfix's certificate is self-signed: the homing process trusts it as an extra CA.
    process.env.NODE_EXTRA_CA_CERTS = cert.certPath;
    server = await startHoming({
      zones: baseZones(),
      cert: { certPath: cert.certPath, keyPath: cert.keyPath, cert: cert.cert },
      extraConfig: `relay: { host: localhost, port: ${postfix.port}, username: relayuser, password_file: ${join(dir, 'relay-password')} }`,
    });
    delete process.env.NODE_EXTRA_CA_CERTS;
  }, 60_000);
  afterAll(async () => {
    await cleanUp(server);
    await postfix?.stop();
    if (dovecot?.pid !== undefined) {
      const exited = new Promise((resolve) => dovecot?.once('exit', resolve));
      dovecot.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('relays a submitted message through Postfix after STARTTLS and AUTH, DKIM-signed', async () => {
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test")',
      's.starttls(context=ctx); s.login("alice@example.org", "alice-password")',
      'print(s.sendmail("alice@example.org", ["zoe@far.example"], "From: alice@example.org\\r\\nTo: zoe@far.example\\r\\nSubject: via the smarthost\\r\\n\\r\\nrelayed\\r\\n")); s.quit()',
    ].join('\n');
    expect((await python(script, [String(server!.submissionPort)])).trim()).toBe('{}');
    await server!.waitForLine(/ outbound delivered .*to=<zoe@far\.example>/, 20_000);
    const deadline = Date.now() + 10_000;
    while (postfix!.held() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [held] = await postfix!.heldMessages();
    expect(held).toMatch(/Subject: via the smarthost/);
    expect(held).toMatch(/DKIM-Signature: v=1; a=rsa-sha256/);
    // Postfix took it over TLS from an authenticated client (RFC 3848 ESMTPSA), as relayuser.
    expect(held).toMatch(/by postfix\.example\.net \(Postfix\) with ESMTPSA/);
    expect(postfix!.log()).toMatch(/sasl_method=PLAIN, sasl_username=relayuser/);
  }, 40_000);
});
