import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** A message a test receiver took. */
export interface ReceivedMessage {
  from: string;
  to: string[];
  data: string;
  secure: boolean;
  sessionId: string;
}

/** A real SMTP receiver (nodemailer's smtp-server) on 127.0.0.1, ephemeral port, that records what it gets. */
export interface Receiver {
  port: number;
  messages: ReceivedMessage[];
  /** Connections accepted so far. */
  connections(): number;
  /** Most connections open at the same time. */
  maxConcurrent(): number;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  key?: string | Buffer;
  cert?: string | Buffer;
  /** Reply to RCPT TO for an address: undefined accepts, else `{ code, message }` refuses. */
  rcpt?: (address: string) => { code: number; message: string } | undefined;
  size?: number;
  smtputf8?: boolean;
  /** Do not offer STARTTLS. */
  noStartTls?: boolean;
  auth?: { user: string; pass: string };
  /** Milliseconds to wait before answering the end of data. */
  dataDelayMs?: number;
  /** Loopback address to listen on; default 127.0.0.1. */
  host?: string;
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const messages: ReceivedMessage[] = [];
  let connections = 0;
  let open = 0;
  let maxConcurrent = 0;
  const disabled: string[] = [];
  if (options.noStartTls || options.key === undefined) disabled.push('STARTTLS');
  if (options.auth === undefined) disabled.push('AUTH');
  const serverOptions: SMTPServerOptions = {
    logger: false,
    disabledCommands: disabled,
    authOptional: options.auth === undefined,
    ...(options.key === undefined ? {} : { key: options.key, cert: options.cert }),
    ...(options.size === undefined ? {} : { size: options.size }),
    ...(options.smtputf8 === false ? { hideSMTPUTF8: true } : {}),
    onConnect(_session, callback) {
      connections += 1;
      open += 1;
      maxConcurrent = Math.max(maxConcurrent, open);
      callback();
    },
    onClose() {
      open -= 1;
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) {
        callback(null, { user: auth.username });
      } else callback(Object.assign(new Error('Bad credentials'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const refusal = options.rcpt?.(address.address);
      if (refusal === undefined) callback();
      else callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          data: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          sessionId: session.id,
        });
        setTimeout(() => callback(null, 'Queued'), options.dataDelayMs ?? 0);
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => {});
  await new Promise<void>((done) => server.listen(0, options.host ?? '127.0.0.1', () => done()));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  return {
    port: address.port,
    messages,
    connections: () => connections,
    maxConcurrent: () => maxConcurrent,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** A raw TCP server on loopback, ephemeral port, for scripted and hostile peers. */
export async function rawServer(
  onConnection: (socket: Socket) => void,
): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
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
    connections: () => connections,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

/** Calls `onLine` with each CRLF-terminated line a socket sends. */
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

const postfix = join(resolve(import.meta.dirname, '../../..'), '.cache/postfix');
/** Postfix's smtp-sink, unpacked by `bash .ci/install-peers.sh`. */
export const SMTP_SINK = join(postfix, 'usr/sbin/smtp-sink');

/** The TCP port a process listens on, from /proc (smtp-sink cannot report the port it got for :0). */
function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    }
  } catch {
    return undefined;
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/);
      if (fields[3] === '0A' && inodes.has(fields[9]!)) return Number.parseInt(fields[1]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}

/** A running smtp-sink. */
export interface SmtpSink {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts Postfix's smtp-sink on 127.0.0.1 (ephemeral port) with `flags`; fails loudly when it is missing. */
export async function startSmtpSink(flags: string[], backlog = 64): Promise<SmtpSink> {
  if (!existsSync(SMTP_SINK)) {
    throw new Error(`Postfix's smtp-sink is missing at ${SMTP_SINK}: run \`bash .ci/install-peers.sh\``);
  }
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(
    SMTP_SINK,
    [...(asRoot ? ['-u', 'nobody'] : []), ...flags, '127.0.0.1:0', String(backlog)],
    { env: { ...process.env, LD_LIBRARY_PATH: join(postfix, 'usr/lib/postfix') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (data) => {
    output += data;
  });
  child.stderr?.on('data', (data) => {
    output += data;
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
