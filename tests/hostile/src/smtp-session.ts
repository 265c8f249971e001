// A raw SMTP session for the attacks: one reply per command, raw writes, STARTTLS and implicit
// TLS (the battery talks to the server as an attacker does, byte for byte, with no client library
// between it and the socket to tidy up what it sends).
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface Session {
  greeting: string;
  /** Sends a line (CRLF added) and resolves the next whole reply (lines joined by \n). */
  send(line: string): Promise<string>;
  /** Writes bytes and resolves the next reply. */
  sendRaw(data: string | Buffer): Promise<string>;
  /** Writes bytes, expecting no reply yet. */
  write(data: string | Buffer): void;
  /** Resolves the next reply. */
  next(timeoutMs?: number): Promise<string>;
  /** STARTTLS, the handshake, and EHLO again; resolves the EHLO reply. */
  startTls(ehlo?: string): Promise<string>;
  /** True once the server closed the connection. */
  readonly ended: boolean;
  closed: Promise<void>;
  close(): void;
  socket(): Socket;
}

export interface SessionOptions {
  localAddress?: string;
  implicitTls?: boolean;
  timeoutMs?: number;
}

/** Opens a session to 127.0.0.1:port and waits for the greeting. */
export async function openSession(port: number, options: SessionOptions = {}): Promise<Session> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  let socket: Socket = options.implicitTls
    ? tlsConnect({
        socket: netConnect({ host: '127.0.0.1', port, localAddress: options.localAddress }),
        rejectUnauthorized: false,
      })
    : netConnect({ host: '127.0.0.1', port, localAddress: options.localAddress });
  let buffer = '';
  let ended = false;
  const replies: string[] = [];
  const pending: { resolve: (r: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const onData = (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const match = /^(?:\d{3}-.*\r\n)*\d{3}(?: .*)?\r\n/.exec(buffer);
      if (!match) break;
      buffer = buffer.slice(match[0].length);
      const text = match[0].trimEnd().split('\r\n').join('\n');
      const waiter = pending.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        waiter.resolve(text);
      } else replies.push(text);
    }
  };
  const onClose = () => {
    ended = true;
    for (const waiter of pending.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the server closed the connection'));
    }
    resolveClosed();
  };
  const bind = (s: Socket) => {
    s.setEncoding('latin1');
    s.on('data', onData);
    s.once('close', onClose);
    s.on('error', () => {});
  };
  bind(socket);
  const next = (ms = timeoutMs) =>
    new Promise<string>((resolve, reject) => {
      const ready = replies.shift();
      if (ready !== undefined) resolve(ready);
      else if (ended) reject(new Error('the server closed the connection'));
      else {
        const timer = setTimeout(() => {
          const index = pending.findIndex((w) => w.timer === timer);
          if (index >= 0) pending.splice(index, 1);
          reject(new Error(`no reply in ${ms} ms`));
        }, ms);
        pending.push({ resolve, reject, timer });
      }
    });
  const write = (data: string | Buffer) => {
    if (!ended) socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  };
  const greeting = await next();
  const session: Session = {
    greeting,
    send: (line) => {
      write(`${line}\r\n`);
      return next();
    },
    sendRaw: (data) => {
      write(data);
      return next();
    },
    write,
    next,
    async startTls(ehlo = 'client.sender.test') {
      const reply = await session.send('STARTTLS');
      if (!reply.startsWith('220')) throw new Error(`STARTTLS refused: ${reply}`);
      const plain = socket;
      plain.removeListener('data', onData);
      plain.removeAllListeners('close');
      const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', reject);
      });
      socket = secure;
      bind(secure);
      return session.send(`EHLO ${ehlo}`);
    },
    get ended() {
      return ended;
    },
    closed,
    close: () => socket.destroy(),
    socket: () => socket,
  };
  return session;
}

/** Opens a session or resolves the error's message (for connections a limit may refuse). */
export async function tryOpen(port: number, options: SessionOptions = {}): Promise<Session | string> {
  try {
    return await openSession(port, options);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
