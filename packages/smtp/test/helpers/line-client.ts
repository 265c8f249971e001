// A minimal SMTP client for tests: sends raw bytes and reads whole replies, over a real socket.
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';

export class LineClient {
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(public socket: Socket | TLSSocket) {
    this.listen(socket);
  }

  private listen(socket: Socket | TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  static open(port: number, tls = false): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = tls
        ? connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(new LineClient(socket)))
        : connect({ port, host: '127.0.0.1' }, () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Reads one complete (possibly multi-line) reply; resolves '' if the connection closed first. */
  async reply(timeout = 5000): Promise<string> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const match = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0];
      }
      if (this.closed) return '';
      if (Date.now() > deadline) throw new Error(`no reply within ${timeout} ms; have ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  async command(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  /** Upgrades to TLS after a 220 to STARTTLS. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    await new Promise<void>((resolve, reject) => {
      const secure = connectTls({ socket: plain, rejectUnauthorized: false }, () => resolve());
      secure.once('error', reject);
      this.socket = secure;
      this.buffer = '';
      this.listen(secure);
    });
  }

  async waitClosed(timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
