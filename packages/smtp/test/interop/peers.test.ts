// Real clients nobody here wrote (Python's smtplib, swaks) send mail through @homing/smtp/server
// on loopback, with and without STARTTLS and AUTH; the server must receive the exact bytes.
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CertificateFiles, certificateFiles } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type SmtpServer } from '../../src/server';

function requirePeer(command: string, args: string[], what = command): void {
  try {
    execFileSync(command, args, { stdio: 'pipe' });
  } catch {
    throw new Error(`${what} is missing: run bash .ci/install-peers.sh`);
  }
}

interface Received {
  from: string | undefined;
  to: string[];
  user: string | undefined;
  secure: boolean;
  body: string;
}

let certificate: CertificateFiles;
let server: SmtpServer;
let port: number;
let tlsPort: number;
const received: Received[] = [];

function run(
  command: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

beforeAll(async () => {
  requirePeer('python3', ['-c', 'import smtplib']);
  requirePeer('swaks', ['--version']);
  // swaks speaks TLS through these Perl modules (Debian libnet-ssleay-perl, libio-socket-ssl-perl).
  requirePeer(
    'perl',
    ['-MIO::Socket::SSL', '-MNet::SSLeay', '-e1'],
    'swaks TLS support (libio-socket-ssl-perl, libnet-ssleay-perl)',
  );
  certificate = certificateFiles();
  server = createServer({
    hostname: 'mx.test',
    tls: { key: certificate.key, cert: certificate.cert },
    hooks: {
      auth: (_session, { username, password }) =>
        username === 'user' && password === 'p@ss word'
          ? { action: 'accept' }
          : { action: 'reject', code: 535, enhanced: '5.7.8', text: 'Bad credentials' },
      data: async (session, message) => {
        const chunks: Buffer[] = [];
        for await (const chunk of message.body) chunks.push(chunk as Buffer);
        received.push({
          from: session.envelope.from?.address,
          to: session.envelope.to.map((r) => r.mailbox.address),
          user: session.user,
          secure: session.secure,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        return { action: 'accept' };
      },
    },
  });
  port = (await server.listen({ port: 0 })).port;
  tlsPort = (await server.listen({ port: 0, implicitTls: true })).port;
}, 30_000);

afterAll(async () => {
  await server?.close({ timeoutMs: 1000 });
});

const MESSAGE =
  'Subject: interop\r\nFrom: sender@interop.test\r\n\r\n.a line with a leading dot\r\nbody\r\n..two dots\r\n';

describe('Python smtplib sends through the server', () => {
  for (const [mode, user] of [
    ['plain', undefined],
    ['starttls', undefined],
    ['starttls', 'user'],
    ['ssl', 'user'],
  ] as const) {
    it(`delivers the exact bytes (${mode}${user ? ', AUTH' : ''})`, async () => {
      received.length = 0;
      const args = [join(import.meta.dirname, 'smtplib-send.py'), String(mode === 'ssl' ? tlsPort : port), mode];
      if (user) args.push(user, 'p@ss word');
      const result = await run('python3', args, MESSAGE);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe('refused=0');
      expect(received).toEqual([
        {
          from: 'sender@interop.test',
          to: ['rcpt@example.org', 'other@example.org'],
          user,
          secure: mode !== 'plain',
          body: MESSAGE,
        },
      ]);
    }, 30_000);
  }

  it('gets a clean AUTH failure for wrong credentials', async () => {
    const result = await run(
      'python3',
      [join(import.meta.dirname, 'smtplib-send.py'), String(port), 'starttls', 'user', 'wrong'],
      MESSAGE,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('535');
    expect(result.stderr).toContain('Bad credentials');
  }, 30_000);

  it('cannot log in without TLS: AUTH is not offered in clear', async () => {
    const result = await run(
      'python3',
      [join(import.meta.dirname, 'smtplib-send.py'), String(port), 'plain', 'user', 'p@ss word'],
      MESSAGE,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SMTP AUTH extension not supported by server');
  }, 30_000);
});

describe('swaks sends through the server', () => {
  const file = () => {
    const path = join(certificate.dir, 'message.eml');
    // swaks turns LF into CRLF and dot-stuffs; the server must give back the CRLF text.
    writeFileSync(path, MESSAGE.replaceAll('\r\n', '\n'));
    return path;
  };
  for (const [flags, label, user] of [
    [[], 'plain', undefined],
    [['--tls'], 'STARTTLS', undefined],
    [
      ['--tls', '--auth', 'PLAIN', '--auth-user', 'user', '--auth-password', 'p@ss word'],
      'STARTTLS + AUTH PLAIN',
      'user',
    ],
    [
      ['--tls', '--auth', 'LOGIN', '--auth-user', 'user', '--auth-password', 'p@ss word'],
      'STARTTLS + AUTH LOGIN',
      'user',
    ],
    [
      ['--tlsc', '--auth', 'PLAIN', '--auth-user', 'user', '--auth-password', 'p@ss word'],
      'implicit TLS + AUTH',
      'user',
    ],
    [['--pipeline'], 'PIPELINING', undefined],
  ] as const) {
    it(`delivers the exact bytes (${label})`, async () => {
      received.length = 0;
      const target = (flags as readonly string[]).includes('--tlsc') ? tlsPort : port;
      const args = [
        '--server',
        '127.0.0.1',
        '--port',
        String(target),
        '--from',
        'sender@interop.test',
        '--to',
        'rcpt@example.org',
      ];
      args.push('--helo', 'interop.test', '--data', `@${file()}`, ...flags);
      const result = await run('swaks', args);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/<[-~] {2}250 2\.0\.0 OK/);
      expect(received).toEqual([
        {
          from: 'sender@interop.test',
          to: ['rcpt@example.org'],
          user,
          secure: label !== 'plain' && label !== 'PIPELINING',
          // swaks always sends CRLF before its CRLF.CRLF, so the body gains one empty line.
          body: `${MESSAGE}\r\n`,
        },
      ]);
    }, 30_000);
  }

  it('fails with exit code and 535 for wrong credentials', async () => {
    const args = ['--server', '127.0.0.1', '--port', String(port), '--from', 'a@interop.test', '--to', 'b@example.org'];
    args.push('--tls', '--auth', 'PLAIN', '--auth-user', 'user', '--auth-password', 'nope', '--data', `@${file()}`);
    const result = await run('swaks', args);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('535 5.7.8 Bad credentials');
  }, 30_000);
});
