// The command line as a product (issue 18 item 5): one exit-code table, errors as JSON with
// --json, no raw library messages, --version, the message before a build, empty stdin refused,
// one wording for bad IP addresses, sink limits and dkim keygen --bits. Every run is the real
// `homing` process (apps/mta/bin/homing.js on the built dist/cli.js).
import { createPrivateKey } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOMING_BIN, runHoming } from '@homing/test-peers';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { describeError, EXIT } from '../src/command-error';

// Each case starts real processes, several of them; the machine may be loaded.
vi.setConfig({ testTimeout: 60_000 });

const dir = mkdtempSync(join(tmpdir(), 'homing-command-line-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const version = (
  JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string }
).version;
const message = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: x\r\n\r\nHello.\r\n';
const notAnIp = (value: string) =>
  `"${value}" is not an IP address; give an IPv4 or IPv6 address, e.g. 192.0.2.1 or 2001:db8::1`;

describe('homing --version', () => {
  it('prints the version of the package and exits 0', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await runHoming([flag]);
      expect(run).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('errors with --json', () => {
  it('are one JSON line on stdout, nothing on stderr, with the exit code of the table', async () => {
    const cases: [string[], string, number][] = [
      [['rdns', 'nope', '--json'], 'USAGE', EXIT.usage],
      // commander's own usage errors too: a required option missing
      [['spf', '--json', '--ip', '192.0.2.1'], 'USAGE', EXIT.usage],
      [['config', 'show', join(dir, 'missing.yml'), '--json'], 'FILE_NOT_FOUND', EXIT.notFound],
      [['user', 'list', '--users', dir, '--json'], 'FILE_UNREADABLE', EXIT.failure],
    ];
    for (const [args, code, exit] of cases) {
      const run = await runHoming(args);
      expect(run.stderr, args.join(' ')).toBe('');
      expect(run.code, args.join(' ')).toBe(exit);
      const printed = JSON.parse(run.stdout) as { error: { code: string; message: string } };
      expect(Object.keys(printed)).toEqual(['error']);
      expect(printed.error.code, args.join(' ')).toBe(code);
      expect(printed.error.message.length).toBeGreaterThan(10);
      expect(run.stdout.trim().split('\n')).toHaveLength(1);
    }
  });

  it('without --json are one "homing:" line on stderr, with the same exit code', async () => {
    const run = await runHoming(['rdns', 'nope']);
    expect(run).toMatchObject({ code: EXIT.usage, stdout: '', stderr: `homing: ${notAnIp('nope')}\n` });
  });
});

describe('exit codes', () => {
  it('make a malformed name a usage error (2), not a failure or a temporary one', async () => {
    const run = await runHoming(['dkim', 'keygen', '--domain', 'bad..example', '--selector', 's1', '--out', dir]);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toMatch(/^homing: .*\(--domain\/--selector\)\n$/);
  });

  it('make a missing thing 3: a user that is not in the users file', async () => {
    const users = join(dir, 'users');
    writeFileSync(users, '');
    const run = await runHoming(['user', 'remove', 'nobody@example.org', '--users', users]);
    expect(run.code).toBe(EXIT.notFound);
    expect(run.stderr).toContain('homing: no user nobody@example.org');
  });
});

describe('library and system messages in words', () => {
  it('says a key that is not PEM is not a PEM private key, not OpenSSL\'s "no start line"', async () => {
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'this is not a key\n');
    const run = await runHoming(['sink', '--listen', '127.0.0.1:0', '--tls-key', junk, '--tls-cert', junk]);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toBe(
      `homing: --tls-key ${junk}: the file is not a PEM private key (no "-----BEGIN ... PRIVATE KEY-----")\n`,
    );
    expect(run.stderr).not.toMatch(/PEM routines|error:[0-9A-F]{8}/);
  });

  it('turns errno and OpenSSL errors into sentences with the right exit code', () => {
    const errno = (code: string, extra: object = {}) =>
      Object.assign(new Error(`${code}: raw`), { code, syscall: 'open', ...extra });
    expect(describeError(errno('EEXIST', { path: '/tmp/x' }))).toMatchObject({
      code: 'EEXIST',
      message: '/tmp/x: already exists; remove it or choose another name',
      exitCode: EXIT.failure,
    });
    expect(describeError(errno('EPIPE', { syscall: 'write' }))).toMatchObject({
      code: 'EPIPE',
      message: 'the other side closed the connection before everything was written',
    });
    expect(describeError(errno('ENOENT', { path: '/nope' }))).toMatchObject({ exitCode: EXIT.notFound });
    const pem = Object.assign(new Error('error:0480006C:PEM routines::no start line'), {
      code: 'ERR_OSSL_PEM_NO_START_LINE',
    });
    expect(describeError(pem).message).toBe(
      'the file is not a PEM private key or certificate (no "-----BEGIN" line it can read)',
    );
    expect(describeError(Object.assign(new Error('x'), { isDnsError: true, code: 'TIMEOUT' })).exitCode).toBe(
      EXIT.temporary,
    );
  });

  it('ends quietly when the reader of its output goes away (EPIPE)', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [HOMING_BIN, 'dns', 'lookup', '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await new Promise((resolve) => child.once('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
  });
});

describe('before a build', () => {
  it('npx homing says to run npm run build instead of a stack trace', async () => {
    const copy = join(dir, 'unbuilt');
    mkdirSync(join(copy, 'bin'), { recursive: true });
    copyFileSync(HOMING_BIN, join(copy, 'bin', 'homing.js'));
    writeFileSync(join(copy, 'package.json'), '{"type":"module"}');
    const { execFile } = await import('node:child_process');
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(copy, 'bin', 'homing.js'), '--help'], (error, _stdout, stderr) =>
        resolve({ code: (error as { code?: number } | null)?.code ?? 0, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'homing: not built yet (dist/cli.js is missing): run `npm run build` at the repository root first\n',
    );
  });
});

describe('a message on stdin', () => {
  it('is refused when empty by every command that reads one', async () => {
    const key = join(dir, 'dkim-example.org-s1.pem');
    const made = await runHoming(['dkim', 'keygen', '--domain', 'example.org', '--selector', 's1', '--out', dir]);
    expect(made.code).toBe(0);
    const commands = [
      ['auth', '--ip', '192.0.2.1', '--helo', 'mail.example.org', '--sender', 'a@example.org', '--dns', '127.0.0.1:9'],
      ['dkim', 'sign', '--domain', 'example.org', '--selector', 's1', '--key', key],
    ];
    for (const args of commands) {
      const run = await runHoming(args, { input: '' });
      expect(run.code, args[0]).toBe(EXIT.usage);
      expect(run.stderr, args[0]).toMatch(/^homing: the message on stdin is empty/);
      expect(run.stdout, args[0]).toBe('');
    }
    const send = await runHoming(['send', '--from', 'a@example.org', '--to', 'b@example.net'], { input: '' });
    expect(send.code).not.toBe(0);
    expect(send.stderr).toMatch(/^homing: the message on stdin is empty/);
    // and a message that is there still goes through
    const signed = await runHoming(commands[1]!, { input: message });
    expect(signed.code).toBe(0);
    expect(signed.stdout).toMatch(/^DKIM-Signature: /);
  });
});

describe('bad IP addresses', () => {
  it('get one wording in every command that takes one', async () => {
    const runs = {
      rdns: await runHoming(['rdns', '300.1.1.1']),
      dnsbl: await runHoming(['dnsbl', '300.1.1.1', '--zone', 'zen.example']),
      spf: await runHoming(['spf', '--ip', '300.1.1.1', '--sender', 'a@example.org']),
      auth: await runHoming(['auth', '--ip', '300.1.1.1', '--helo', 'h.example', '--sender', 'a@example.org'], {
        input: message,
      }),
      doctor: await runHoming(['doctor', 'example.org', '--ip', '192.0.2.1,300.1.1.1', '--dns', '127.0.0.1:9']),
      quickstart: await runHoming(['quickstart', 'a@example.org', '--ip', '300.1.1.1', '--dir', '/nonexistent/q']),
    };
    for (const [command, run] of Object.entries(runs)) {
      expect(run.code, command).toBe(EXIT.usage);
      const prefix = ['spf', 'auth', 'doctor', 'quickstart'].includes(command) ? '--ip: ' : '';
      expect(run.stderr, command).toBe(`homing: ${prefix}${notAnIp('300.1.1.1')}\n`);
    }
  });
});

describe('homing sink limits', () => {
  it('refuses --interval 0 and --max-connections 0 as usage errors', async () => {
    const interval = await runHoming(['sink', '--listen', '127.0.0.1:0', '--interval', '0']);
    expect(interval).toMatchObject({
      code: EXIT.usage,
      stderr: 'homing: --interval must be a whole number 1 or more, not "0"\n',
    });
    const connections = await runHoming(['sink', '--listen', '127.0.0.1:0', '--max-connections', '0']);
    expect(connections).toMatchObject({
      code: EXIT.usage,
      stderr: 'homing: --max-connections must be a whole number 1 or more, not "0"\n',
    });
  });
});

describe('homing dkim keygen --bits', () => {
  it('makes an RSA key of that size, and refuses sizes outside 1024 to 4096 and --bits with ed25519', async () => {
    const out = join(dir, 'bits');
    const run = await runHoming([
      'dkim',
      'keygen',
      '--domain',
      'example.org',
      '--selector',
      'b1',
      '--bits',
      '1024',
      '--out',
      out,
      '--json',
    ]);
    expect(run.code).toBe(0);
    const { keyFile } = JSON.parse(run.stdout) as { keyFile: string };
    expect(createPrivateKey(readFileSync(keyFile)).asymmetricKeyDetails?.modulusLength).toBe(1024);
    const small = await runHoming([
      'dkim',
      'keygen',
      '--domain',
      'example.org',
      '--selector',
      'b2',
      '--bits',
      '512',
      '--out',
      out,
    ]);
    expect(small).toMatchObject({
      code: EXIT.usage,
      stderr: 'homing: --bits must be a whole number from 1024 to 4096, not "512"\n',
    });
    const ed = await runHoming([
      'dkim',
      'keygen',
      '--domain',
      'example.org',
      '--selector',
      'b3',
      '--algorithm',
      'ed25519',
      '--bits',
      '2048',
      '--out',
      out,
    ]);
    expect(ed.code).toBe(EXIT.usage);
    expect(ed.stderr).toBe('homing: --bits is for RSA keys; an ed25519 key is always 256 bits\n');
  });
});
