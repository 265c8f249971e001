// `homing dkim keygen|sign|check`, run as a user would: the built bin in a child process, the key
// served by the loopback DNS server of @homing/dns, the signature checked by mailauth.
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { runHoming } from '@homing/test-peers';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const homing = (args: string[], input?: string | Buffer, env: NodeJS.ProcessEnv = {}) =>
  runHoming(args, { input, env: { HOMING_DNS: '', ...env }, encoding: 'latin1' });

let dir: string;
let server: DnsServer;
let rsaKeyFile: string;
let edKeyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-dkim-cli-'));
  const rsa = await homing(['dkim', 'keygen', '--domain', 'example.com', '--selector', 'rsa', '--out', dir, '--json']);
  const ed = await homing([
    'dkim',
    'keygen',
    '--domain',
    'example.com',
    '--selector',
    'ed',
    '--algorithm',
    'ed25519',
    '--out',
    dir,
    '--json',
  ]);
  const rsaInfo = JSON.parse(rsa.stdout);
  const edInfo = JSON.parse(ed.stdout);
  rsaKeyFile = rsaInfo.keyFile;
  edKeyFile = edInfo.keyFile;
  const split = (value: string) => value.match(/.{1,255}/g)!;
  server = await startDnsServer({
    zones: {
      'example.com': { TXT: ['v=spf1 -all'] },
      'rsa._domainkey.example.com': { TXT: [split(rsaInfo.record)] },
      'ed._domainkey.example.com': { TXT: [edInfo.record] },
      'wrong._domainkey.example.com': { TXT: [edInfo.record] },
    },
  });
}, 30_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('homing dkim keygen', () => {
  it('writes the key with mode 600 and prints the record and a zone line', { timeout: 20_000 }, async () => {
    const run = await homing(['dkim', 'keygen', '--domain', 'example.org', '--selector', 's1', '--out', dir]);
    expect(run.code).toBe(0);
    const file = join(dir, 'dkim-example.org-s1.pem');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(run.stdout).toContain('s1._domainkey.example.org');
    expect(run.stdout).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/m);
    expect(run.stdout).toMatch(/^s1\._domainkey\.example\.org\. 3600 IN TXT \( "v=DKIM1; k=rsa; p=[^"]+" "[^"]+" \)$/m);
  });

  it('refuses to overwrite an existing key file', { timeout: 20_000 }, async () => {
    const run = await homing(['dkim', 'keygen', '--domain', 'example.com', '--selector', 'rsa', '--out', dir]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: .*already exists: remove it, or choose another --selector or --out\n$/);
  });

  it('rejects a domain or selector that is not a DNS name, without a stack trace', { timeout: 20_000 }, async () => {
    const run = await homing(['dkim', 'keygen', '--domain', 'exa mple.com', '--selector', 's', '--out', dir]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: "exa mple.com" is not a valid domain name/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const selector = await homing(['dkim', 'keygen', '--domain', 'example.com', '--selector', 'a;b', '--out', dir]);
    expect(selector.stderr).toMatch(/^homing: "a;b" is not a valid selector/);
  });

  it('rejects an unknown --algorithm', { timeout: 20_000 }, async () => {
    const run = await homing(['dkim', 'keygen', '--domain', 'example.com', '--selector', 's', '--algorithm', 'dsa']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/Allowed choices are rsa, ed25519/);
  });
});

describe('homing dkim sign', () => {
  const message = 'From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello  Bob\r\n';

  it('prints the message with a signature that mailauth verifies', { timeout: 20_000 }, async () => {
    const dns = new Resolver();
    dns.setServers([server.address]);
    for (const [selector, key] of [
      ['rsa', rsaKeyFile],
      ['ed', edKeyFile],
    ] as const) {
      const run = await homing(
        ['dkim', 'sign', '--domain', 'example.com', '--selector', selector, '--key', key],
        message,
      );
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout.endsWith(message)).toBe(true);
      expect(run.stdout).toMatch(/^DKIM-Signature: v=1; a=(rsa|ed25519)-sha256;/);
      const result = await dkimVerify(Buffer.from(run.stdout, 'latin1'), {
        resolver: (name: string) => dns.resolveTxt(name),
      });
      expect(result.results[0]?.status?.result).toBe('pass');
    }
  });

  it('keeps LF line ends when the message uses them', { timeout: 20_000 }, async () => {
    const lf = message.replace(/\r\n/g, '\n');
    const run = await homing(['dkim', 'sign', '--domain', 'example.com', '--selector', 'ed', '--key', edKeyFile], lf);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout.endsWith(lf)).toBe(true);
  });

  it('names the key file when it is missing, malformed or encrypted', { timeout: 20_000 }, async () => {
    const args = (key: string) => ['dkim', 'sign', '--domain', 'example.com', '--selector', 'rsa', '--key', key];
    const missing = await homing(args(join(dir, 'nope.pem')), message);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^homing: cannot read the key file .*nope\.pem \(no such file\)/);
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'this is not a key\n');
    const malformed = await homing(args(junk), message);
    expect(malformed.stderr).toMatch(/^homing: the private key in .*junk\.pem is not a PEM key/);
    const encrypted = join(dir, 'encrypted.pem');
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      privateKeyEncoding: { format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' },
      publicKeyEncoding: { format: 'pem', type: 'spki' },
    });
    await writeFile(encrypted, privateKey);
    const locked = await homing(args(encrypted), message);
    expect(locked.code).not.toBe(0);
    expect(locked.stderr).toMatch(/^homing: the private key in .*encrypted\.pem is encrypted with a passphrase/);
    for (const run of [missing, malformed, locked]) expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('homing dkim sign limits', () => {
  it('refuses input whose header block does not end within 1 MiB', { timeout: 20_000 }, async () => {
    const huge = `From: a@example.com\r\nX-Big: ${'x'.repeat(1_200_000)}\r\n\r\nbody\r\n`;
    const run = await homing(['dkim', 'sign', '--domain', 'example.com', '--selector', 'ed', '--key', edKeyFile], huge);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^homing: the message has no end to its header block in its first 1 MiB/);
  });
});

describe('homing dkim check', () => {
  it('says ok (exit 0) when the published record matches, asking the --dns server', { timeout: 20_000 }, async () => {
    const run = await homing([
      'dkim',
      'check',
      '--domain',
      'example.com',
      '--selector',
      'rsa',
      '--key',
      rsaKeyFile,
      '--dns',
      server.address,
    ]);
    expect(run.stdout).toMatch(/^ok: the record at rsa\._domainkey\.example\.com matches/);
    expect(run.code).toBe(0);
  });

  it('reads HOMING_DNS and prints JSON with --json', { timeout: 20_000 }, async () => {
    const run = await homing(
      ['dkim', 'check', '--domain', 'example.com', '--selector', 'ed', '--key', edKeyFile, '--json'],
      '',
      {
        HOMING_DNS: server.address,
      },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'ok', name: 'ed._domainkey.example.com' });
  });

  it('exits 1 and says what to publish for a wrong or missing key', { timeout: 20_000 }, async () => {
    const wrong = await homing([
      'dkim',
      'check',
      '--domain',
      'example.com',
      '--selector',
      'wrong',
      '--key',
      rsaKeyFile,
      '--dns',
      server.address,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/^wrong-key: /);
    expect(wrong.stdout).toMatch(/^expected: v=DKIM1; k=rsa; p=/m);
    const missing = await homing([
      'dkim',
      'check',
      '--domain',
      'example.com',
      '--selector',
      'none',
      '--key',
      rsaKeyFile,
      '--dns',
      server.address,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^missing: no TXT record at none\._domainkey\.example\.com/);
  });

  it('rejects a bad --dns value with a clear message', { timeout: 20_000 }, async () => {
    const run = await homing([
      'dkim',
      'check',
      '--domain',
      'example.com',
      '--selector',
      'rsa',
      '--key',
      rsaKeyFile,
      '--dns',
      'nonsense',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: --dns "nonsense" is not HOST:PORT/);
  });
});
