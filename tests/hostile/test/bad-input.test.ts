// Bad input to everything else (issue 16): malformed config values, a users file with broken
// lines, a spool that is full or read-only (new mail gets 451 4.3.0, nothing acknowledged is
// lost, service resumes), and a DNS server that answers garbage.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsServer } from '@homing/dns/testing';
import { certificateFiles, HOMING_BIN } from '@homing/test-peers';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../../apps/mta/src/users/users-file';
import { startBatteryServer } from '../src/battery-server';
import { batteryMessage, expectedChecksum, maildirCopies, reconcile, sendMessage, waitUntil } from '../src/mail-client';
import { openSession } from '../src/smtp-session';
import { record } from '../src/summary';

let cert: { certPath: string; keyPath: string } | undefined;

/** `homing start` on a config text; resolves its exit code and stderr (it must exit, not serve). */
function startWith(text: string): Promise<{ code: number | null; stderr: string }> {
  cert ??= certificateFiles();
  const dir = mkdtempSync(join(tmpdir(), 'homing-bad-config-'));
  const file = join(dir, 'homing.yml');
  writeFileSync(join(dir, 'users'), '');
  writeFileSync(
    file,
    text.replaceAll('{cert}', cert.certPath).replaceAll('{key}', cert.keyPath).replaceAll('{dir}', dir),
  );
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HOMING_BIN, 'start', '--config', file], { timeout: 60_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr });
    });
  });
}

const base = [
  'domain: example.org',
  'hostname: mx.example.org',
  'tls: { cert: {cert}, key: {key} }',
  'users: {dir}/users',
  'state: {dir}/state',
  'listen: { mx: "127.0.0.1:0", submission: off, submissions: off, metrics: off }',
];

describe('malformed config values are refused with their position, and nothing starts', () => {
  // One config holding every bad value: the loader reports them all at once, each at its line.
  const cases: [name: string, line: string, expected: RegExp][] = [
    [
      'a size that is not one',
      'limits: { message_size: banana, connections: -5 }',
      /:7:\d+: limits\.message_size: "banana" is not a size/,
    ],
    ['a negative limit', '', /:7:\d+: limits\.connections: -5 is not a whole number/],
    ['a port over 65535', 'remote_port: 99999', /:8:\d+: remote_port: 99999/],
    ['a duration that is not one', 'filters: { timeout: soon, spf: { fail: explode } }', /:9:\d+: filters\.timeout/],
    ['a filter action that does not exist', '', /:9:\d+: filters\.spf\.fail: "explode" is not one of/],
    ['a resolver that is not an address', 'dns: ["not a resolver"]', /:10:\d+: dns/],
    ['a misspelt key', 'limts: { recipients: 5 }', /:11:1: limts: unknown key; did you mean limits\?/],
  ];
  let run: Promise<{ code: number | null; stderr: string }> | undefined;
  for (const [name, , expected] of cases) {
    it(`refuses ${name}, naming its line`, async () => {
      run ??= startWith([...base, ...cases.map(([, line]) => line).filter((line) => line !== '')].join('\n'));
      const result = await run;
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(expected);
    });
  }

  it('refuses a YAML syntax error and a line length under 1000 octets', async () => {
    const [syntax, short] = await Promise.all([
      startWith([...base, 'limits: [ message_size'].join('\n')),
      startWith([...base, 'limits: { line_length: 10 }'].join('\n')),
    ]);
    expect(syntax.code).not.toBe(0);
    expect(syntax.stderr).toMatch(/YAML syntax error/);
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/:7:\d+: limits\.line_length: .*under RFC 5321's 1000 octets/);
  });
});

describe('a users file with broken lines', () => {
  it('reports each broken line and skips it; the good users still log in', async () => {
    const good = await hashPassword('alice-password');
    const dir = mkdtempSync(join(tmpdir(), 'homing-bad-users-'));
    writeFileSync(
      join(dir, 'users'),
      [
        '# a comment',
        'no-colon-here',
        'bob@example.org:not-a-hash',
        `alice@example.org:${good}`,
        ':$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
        'carol@example.org:$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
        `\u0000\u00ff:${good}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const server = await startBatteryServer({ dir });
    try {
      const skipped = server.current.lines().filter((line) => / config users-line-skipped /.test(line));
      // Lines 2, 3, 5, 6, 7 are broken; each is named with its number.
      for (const line of [2, 3, 5, 6, 7]) expect(skipped.some((l) => l.includes(` line=${line} `))).toBe(true);
      expect(skipped.some((l) => l.includes(' line=4 '))).toBe(false);
      const s = await openSession(server.current.submissionsPort, { implicitTls: true });
      await s.send('EHLO client.example.test');
      expect(
        await s.send(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0alice-password').toString('base64')}`),
      ).toMatch(/^235/);
      s.close();
      record({ crashes: server.crashes, peakRss: server.peakRss() });
    } finally {
      await server.close();
    }
  });
});

// A small filesystem for the spool, so that it can be filled and made read-only for real.
function mountable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a small tmpfs for the spool';
  const probe = mkdtempSync(join(tmpdir(), 'homing-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount is not permitted here (${(error as Error).message.split('\n')[0]})`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const cannotMount = mountable();
if (cannotMount) process.stdout.write(`skipping the full and read-only spool cases: ${cannotMount}\n`);

describe.skipIf(cannotMount !== undefined)('a spool that is full or not writable', () => {
  it('answers 451 4.3.0 while the spool is full or read-only, loses nothing acknowledged, and resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homing-small-spool-'));
    const spool = join(dir, 'state', 'spool');
    mkdirSync(spool, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', spool]);
    const server = await startBatteryServer({ dir });
    const acknowledged = new Map<string, string>();
    // 40 KB messages: more than the slack left in the last pages of the spool's files.
    const send = async (id: string) => {
      const message = batteryMessage(id, 2000);
      const result = await sendMessage(server.current.mxPort, message);
      if (result.accepted) acknowledged.set(id, expectedChecksum(message));
      return result.reply;
    };
    try {
      expect(await send('spool-before')).toMatch(/^250/);
      // Full: filler files take what is left, topped up before each try (a failed write frees
      // the blocks it had taken).
      const fill = (n: number) =>
        spawnSync('dd', ['if=/dev/zero', `of=${join(spool, `filler-${n}`)}`, 'bs=4k'], { stdio: 'ignore' });
      const full: string[] = [];
      for (let n = 0; n < 3; n++) {
        // Twice: the server frees a failed write's blocks just after its 451.
        fill(n * 2);
        await new Promise((r) => setTimeout(r, 300));
        fill(n * 2 + 1);
        full.push(await send(`spool-full-${n}`));
      }
      expect(
        full.every((r) => /^451 4\.3\.0/.test(r)),
        full.join('\n'),
      ).toBe(true);
      for (let n = 0; n < 6; n++) rmSync(join(spool, `filler-${n}`), { force: true });
      expect(await send('spool-after-full')).toMatch(/^250/);
      // Read-only: a read-only bind mount over the spool (a plain remount is refused while the
      // server has files open for writing; what it opens from now on is read-only).
      execFileSync('mount', ['--bind', spool, spool]);
      execFileSync('mount', ['-o', 'remount,bind,ro', spool]);
      const readOnly: string[] = [];
      for (let n = 0; n < 3; n++) readOnly.push(await send(`spool-ro-${n}`));
      expect(
        readOnly.every((r) => /^451 4\.3\.0/.test(r)),
        readOnly.join('\n'),
      ).toBe(true);
      execFileSync('umount', [spool]);
      expect(await send('spool-after-ro')).toMatch(/^250/);
      expect(server.alive()).toBe(true);
      await waitUntil(
        () => reconcile(acknowledged, maildirCopies(server.current)).lost.length === 0,
        20_000,
        () => `lost: ${reconcile(acknowledged, maildirCopies(server.current)).lost.join(' ')}`,
      );
      const result = reconcile(acknowledged, maildirCopies(server.current));
      record({
        acknowledged: acknowledged.size,
        delivered: result.delivered,
        lost: result.lost.length,
        duplicated: result.duplicated.length,
        crashes: server.crashes,
        peakRss: server.peakRss(),
      });
      expect(result.duplicated).toEqual([]);
      expect(result.corrupted).toEqual([]);
      // Nothing that got a 451 was delivered.
      expect([...maildirCopies(server.current).keys()].filter((id) => /spool-(full|ro)-/.test(id))).toEqual([]);
    } finally {
      await server.close().catch(() => undefined);
      spawnSync('umount', ['-l', spool]);
      spawnSync('umount', ['-l', spool]);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('a DNS server that answers garbage', () => {
  it('keeps serving: every client gets an answer, the server does not crash', async () => {
    const socket = createSocket('udp4');
    let n = 0;
    socket.on('message', (query, peer) => {
      const id = query.subarray(0, 2);
      const answers = [
        Buffer.from([0xde, 0xad, 0xbe, 0xef]),
        // The right id, QR set, one question claimed but none there.
        Buffer.concat([id, Buffer.from([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0])]),
        // An answer whose name is a compression pointer to itself.
        Buffer.concat([
          id,
          Buffer.from([0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]),
        ]),
        // The query echoed with random bytes after it.
        Buffer.concat([id, Buffer.from([0x81, 0x80]), query.subarray(4), Buffer.from('garbage\0\xff', 'latin1')]),
        Buffer.alloc(0),
      ];
      socket.send(answers[n++ % answers.length]!, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const garbage = {
      address: `127.0.0.1:${socket.address().port}`,
      close: async () => {
        socket.close();
      },
    } as unknown as DnsServer;
    const server = await startBatteryServer({ dns: garbage, extraConfig: 'filters: { timeout: 1s }\n' });
    try {
      const replies: string[] = [];
      for (let i = 0; i < 3; i++) {
        const result = await sendMessage(server.current.mxPort, batteryMessage(`garbage-dns-${i}`), {
          timeoutMs: 20_000,
        });
        replies.push(result.reply);
      }
      // Each session got an SMTP answer: accepted, or a temporary refusal (a DNS failure is a tempfail).
      for (const reply of replies) expect(reply).toMatch(/^(250|4\d\d) /);
      expect(server.alive()).toBe(true);
      record({ crashes: server.crashes, peakRss: server.peakRss() });
    } finally {
      await server.close();
    }
  }, 120_000);
});
