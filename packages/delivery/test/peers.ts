// nodemailer's smtp-server as a recording receiver. The other real peers (smtp-sink, Postfix, raw
// servers) come from @homing/test-peers.
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
