import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** A raw TCP server on loopback, ephemeral port, for scripted and hostile peers. */
export async function rawServer(
  onConnection: (socket: Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

/** Reads CRLF lines from a socket, for scripted servers. */
export function lines(socket: Socket, onLine: (line: string) => void): void {
  let buffered = '';
  socket.on('data', (data) => {
    buffered += data.toString('latin1');
    let end = buffered.indexOf('\r\n');
    while (end !== -1) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      onLine(line);
      end = buffered.indexOf('\r\n');
    }
  });
}

/** A self-signed certificate for `localhost` and 127.0.0.1, made with the openssl command into a temp dir. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'homing-smtp-client-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
  } catch (error) {
    throw new Error(`openssl failed (${(error as Error).message}); run \`bash .ci/install-peers.sh\``);
  }
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

const repoRoot = resolve(import.meta.dirname, '../../..');
const postfix = join(repoRoot, '.cache/postfix');
export const SMTP_SINK = join(postfix, 'usr/sbin/smtp-sink');

/** The TCP port a process listens on, found through /proc (smtp-sink cannot report the port it got for :0). */
function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    }
  } catch {
    return undefined;
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/);
      // fields: sl local_address rem_address st ... inode (index 9); st 0A is LISTEN.
      if (fields[3] === '0A' && inodes.has(fields[9]!)) return Number.parseInt(fields[1]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}

export interface SmtpSink {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts Postfix's smtp-sink on 127.0.0.1, ephemeral port, with the given flags. Fails loudly when it is missing. */
export async function startSmtpSink(flags: string[]): Promise<SmtpSink> {
  if (!existsSync(SMTP_SINK)) {
    throw new Error(`Postfix's smtp-sink is missing at ${SMTP_SINK}: run \`bash .ci/install-peers.sh\``);
  }
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(SMTP_SINK, [...(asRoot ? ['-u', 'nobody'] : []), ...flags, '127.0.0.1:0', '64'], {
    env: { ...process.env, LD_LIBRARY_PATH: join(postfix, 'usr/lib/postfix') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 5000;
  let port: number | undefined;
  while (port === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`smtp-sink did not start listening: ${output}`);
    }
    await new Promise((done) => setTimeout(done, 20));
    port = listeningPort(child.pid!);
  }
  return {
    port,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
