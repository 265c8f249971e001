import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectNet } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { startDnsServer } from '@homing/dns/testing';
import { certificateFiles, runHoming } from '@homing/test-peers';
import { afterAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/users/users-file';
import { baseZones, cleanUp, type HomingServer, startHoming } from './harness';
import { converse } from './smtp-talk';

/** STARTTLS on a fresh connection; resolves the certificate's fingerprint and the TLS socket. */
function startTls(port: number): Promise<{ fingerprint: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const plain = connectNet({ host: '127.0.0.1', port });
    let seen = '';
    let step = 0;
    plain.setEncoding('latin1');
    plain.on('data', (chunk: string) => {
      seen += chunk;
      if (step === 0 && /^220 .*\r\n$/m.test(seen)) {
        step = 1;
        seen = '';
        plain.write('EHLO mail.sender.test\r\n');
      } else if (step === 1 && /^250 .*\r\n$/m.test(seen)) {
        step = 2;
        seen = '';
        plain.write('STARTTLS\r\n');
      } else if (step === 2 && /^220 .*\r\n$/m.test(seen)) {
        step = 3;
        plain.removeAllListeners('data');
        const socket = connectTls({ socket: plain, rejectUnauthorized: false, servername: 'localhost' }, () => {
          resolve({ fingerprint: socket.getPeerCertificate().fingerprint256, socket });
        });
        socket.once('error', reject);
      }
    });
    plain.once('error', reject);
  });
}

/** Reads one SMTP reply from a TLS socket after writing `line`. */
function command(socket: TLSSocket, line: string): Promise<string> {
  return new Promise((resolve) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (/^\d{3} .*\r\n$/m.test(seen)) {
        socket.off('data', onData);
        resolve(seen.trimEnd());
      }
    };
    socket.on('data', onData);
    socket.write(`${line}\r\n`);
  });
}

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

describe('homing start: lifecycle', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('serves a renewed certificate to the next STARTTLS after SIGHUP while an open session finishes', async () => {
    const server: HomingServer = await startHoming();
    cleanups.push(() => cleanUp(server));
    const first = await startTls(server.mxPort);
    expect(first.fingerprint).toBe(fingerprintOf(server.cert.cert));
    expect(await command(first.socket, 'EHLO mail.sender.test')).toMatch(/^250/);
    expect(await command(first.socket, 'MAIL FROM:<someone@sender.test>')).toMatch(/^250/);

    // Renew the certificate in place (same paths, as certbot or ACME would) and reload.
    const renewed = certificateFiles();
    cleanups.push(() => rmSync(renewed.dir, { recursive: true, force: true }));
    copyFileSync(renewed.certPath, server.cert.certPath);
    copyFileSync(renewed.keyPath, server.cert.keyPath);
    server.signal('SIGHUP');
    await server.waitForLine(/ server reloaded /);

    const second = await startTls(server.mxPort);
    expect(second.fingerprint).toBe(fingerprintOf(renewed.cert));
    expect(second.fingerprint).not.toBe(first.fingerprint);
    second.socket.destroy();

    // The session opened before the reload goes on and delivers.
    const before = server.maildir('alice@example.org');
    expect(await command(first.socket, 'RCPT TO:<alice@example.org>')).toMatch(/^250/);
    expect(await command(first.socket, 'DATA')).toMatch(/^354/);
    expect(await command(first.socket, 'Subject: across a reload\r\n\r\nstill here\r\n.')).toMatch(/^250 /);
    first.socket.destroy();
    expect(await server.waitForNew('alice@example.org', before)).toContain('across a reload');
  }, 40_000);

  it('refuses a bad config on reload and keeps serving with the old one', async () => {
    const server = await startHoming();
    cleanups.push(() => cleanUp(server));
    const good = readFileSync(server.configPath, 'utf8');
    writeFileSync(server.configPath, `${good}\nhostnme: typo.example.org\n`);
    server.signal('SIGHUP');
    const line = await server.waitForLine(/ server reload-failed /);
    expect(line).toMatch(/hostnme/);
    expect(line).toMatch(/did you mean hostname/);
    const c = await converse(server.mxPort);
    expect(c.greeting).toMatch(/^220 mx\.example\.org /);
    c.close();
  }, 40_000);

  it('stops on SIGTERM, and exits 0', async () => {
    const server = await startHoming();
    cleanups.push(() => cleanUp(server));
    expect(await server.stop()).toBe(0);
    expect(server.lines().some((l) => / server stopped/.test(l))).toBe(true);
  }, 40_000);

  it('refuses to start on a config with an error, naming file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homing-bad-config-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'homing.yml');
    writeFileSync(
      path,
      'domain: example.org\nhostname: mx.example.org\ntls: { cert: /nonexistent/cert.pem, key: /nonexistent/key.pem }\nusers: /nonexistent/users\n',
    );
    const run = await runHoming(['start', '--config', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:\\d+: tls\\.cert: `));
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 20_000);

  it('runs from exactly the README minimal config (280 characters at most)', async () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const match = /<!-- minimal-config -->\s*```yaml\n([\s\S]*?)```/.exec(readme);
    expect(match, 'the README marks its minimal config with <!-- minimal-config -->').toBeTruthy();
    const minimal = match![1]!;
    expect(minimal.length).toBeLessThanOrEqual(280);
    expect(
      minimal
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0]),
    ).toEqual(['domain', 'hostname', 'tls', 'users']);
    // The same text with paths replaced by test files; listeners and state that a test may use
    // are given on top, since the defaults (port 25, /var/lib/homing) need root and a clean host.
    const dns = await startDnsServer({ zones: baseZones() });
    const cert = certificateFiles();
    const dir = mkdtempSync(join(tmpdir(), 'homing-minimal-'));
    writeFileSync(join(dir, 'users'), `alice@example.org:${await hashPassword('pw')}\n`);
    const text = minimal
      .replace('/etc/homing/cert.pem', cert.certPath)
      .replace('/etc/homing/key.pem', cert.keyPath)
      .replace('/etc/homing/users', join(dir, 'users'));
    const server = await startHoming({
      dns,
      cert,
      dir,
      configText: `${text}state: {state}\ndns: ["{dns}"]\nlisten: { mx: "127.0.0.1:{mx}", submission: [], submissions: [], metrics: [] }\n`,
    });
    cleanups.push(() => cleanUp(server));
    const c = await converse(server.mxPort);
    expect(c.greeting).toMatch(/^220 mx\.example\.org /);
    c.close();
  }, 40_000);
});
