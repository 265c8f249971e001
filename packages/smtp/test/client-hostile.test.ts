import { Readable } from 'node:stream';
import { lines, rawServer } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type SmtpClientError } from '../src/client';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(onConnection: Parameters<typeof rawServer>[0]) {
  const server = await rawServer(onConnection);
  servers.push(server);
  return server;
}

/** A well-behaved minimal server until `DATA`; then `onData` takes over the socket. */
function smtpUntilData(onData: (socket: import('node:net').Socket) => void) {
  return serve((socket) => {
    socket.write('220 hostile.example ESMTP\r\n');
    let inData = false;
    lines(socket, (line) => {
      if (inData) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') socket.write('250-hostile.example\r\n250 PIPELINING\r\n');
      else if (verb === 'MAIL' || verb === 'RCPT') socket.write('250 ok\r\n');
      else if (verb === 'DATA') {
        inData = true;
        socket.write('354 go\r\n');
        onData(socket);
      }
    });
  });
}

async function failure(promise: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await promise;
  } catch (error) {
    expect((error as SmtpClientError).name).toBe('SmtpError');
    return error as SmtpClientError;
  }
  throw new Error('expected a failure');
}

// Short enough to keep the suite quick, long enough for a loaded machine; tests about a timeout set their own.
const quick = {
  greetingMs: 5000,
  commandMs: 5000,
  mailMs: 5000,
  rcptMs: 5000,
  dataStartMs: 5000,
  dataBlockMs: 5000,
  dataEndMs: 5000,
};

describe('@homing/smtp/client against hostile servers', { timeout: 15_000 }, () => {
  it('fails with PROTOCOL when the server answers with garbage', async () => {
    const { port } = await serve((socket) => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: quick }));
    expect(error.code).toBe('PROTOCOL');
    expect(error.transient).toBe(true);
  });

  it('fails with REPLY_TOO_LONG on an endless reply line, without waiting for its end', async () => {
    const { port } = await serve((socket) => socket.write(`220 ${'x'.repeat(200_000)}`));
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: quick }));
    expect(error.code).toBe('REPLY_TOO_LONG');
  });

  it('fails with REPLY_TOO_LONG on a multi-line reply that never ends', async () => {
    const { port } = await serve((socket) => {
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write('220-still going\r\n'.repeat(20));
      }, 1);
    });
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: quick, maxReplyLines: 50 }));
    expect(error.code).toBe('REPLY_TOO_LONG');
  });

  it('times out on a reply dripped a line at a time: partial replies do not reset the timer', async () => {
    const { port } = await serve((socket) => {
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write('220-slow\r\n');
      }, 50);
    });
    const started = Date.now();
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: { ...quick, greetingMs: 400 } }));
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('times out when the server stalls after the greeting', async () => {
    const { port } = await serve((socket) => socket.write('220 stall.example ESMTP\r\n'));
    const started = Date.now();
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: { ...quick, commandMs: 300 } }));
    expect(error.code).toBe('TIMEOUT');
    expect(error.reply?.code).toBe(220);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('times out when the server never greets', async () => {
    const { port } = await serve(() => {});
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: { ...quick, greetingMs: 300 } }));
    expect(error.code).toBe('TIMEOUT');
  });

  it('fails with CONNECTION_CLOSED when the server disconnects mid-DATA', async () => {
    const { port } = await smtpUntilData((socket) => {
      socket.once('data', () => socket.destroy());
    });
    const client = await connect({ host: '127.0.0.1', port, timeouts: quick });
    const error = await failure(
      client.send({ from: 'a@example.com', to: ['b@example.net'], message: 'x'.repeat(4 * 1024 * 1024) }),
    );
    expect(error.code).toBe('CONNECTION_CLOSED');
    expect(error.transient).toBe(true);
    expect(client.usable).toBe(false);
    const again = await failure(client.send({ from: 'a@example.com', to: ['b@example.net'], message: 'x' }));
    expect(again.code).toBe('INVALID_STATE');
    await client.close();
  });

  it('times out when the server stops reading the body (back-pressure bounded by the data-block timeout)', async () => {
    const { port } = await smtpUntilData((socket) => socket.pause());
    const client = await connect({ host: '127.0.0.1', port, timeouts: { ...quick, dataBlockMs: 300 } });
    const started = Date.now();
    const error = await failure(
      client.send({ from: 'a@example.com', to: ['b@example.net'], message: Buffer.alloc(64 * 1024 * 1024, 0x61) }),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
    await client.close();
  });

  it('times out waiting for the reply after the end of data', async () => {
    const { port } = await smtpUntilData(() => {});
    const client = await connect({ host: '127.0.0.1', port, timeouts: { ...quick, dataEndMs: 300 } });
    const error = await failure(client.send({ from: 'a@example.com', to: ['b@example.net'], message: 'hello\r\n' }));
    expect(error.code).toBe('TIMEOUT');
    await client.close();
  });

  it('drops the connection without ending DATA when the message stream breaks', async () => {
    let received = '';
    const closed = new Promise<void>((resolve) => {
      void smtpUntilData((socket) => {
        socket.on('data', (d) => {
          received += d.toString('latin1');
        });
        socket.on('close', () => resolve());
      }).then(async ({ port }) => {
        const client = await connect({ host: '127.0.0.1', port, timeouts: quick });
        const message = Readable.from(
          (async function* () {
            yield Buffer.from('Subject: half\r\n\r\nfirst part\r\n');
            await new Promise((r) => setTimeout(r, 20));
            throw new Error('disk read failed');
          })(),
        );
        const error = await failure(client.send({ from: 'a@example.com', to: ['b@example.net'], message }));
        expect(error.code).toBe('MESSAGE_SOURCE_FAILED');
        expect(error.message).toMatch(/disk read failed/);
      });
    });
    await closed;
    expect(received).toContain('first part');
    expect(received).not.toContain('\r\n.\r\n');
  });

  it('bounds a message stream that stalls by the data-block timeout, without ending DATA', async () => {
    let received = '';
    const { port } = await smtpUntilData((socket) => {
      socket.on('data', (d) => {
        received += d.toString('latin1');
      });
    });
    const client = await connect({ host: '127.0.0.1', port, timeouts: { ...quick, dataBlockMs: 300 } });
    const message = new Readable({ read() {} });
    message.push('Subject: stalled\r\n\r\nfirst part\r\n');
    const started = Date.now();
    const error = await failure(client.send({ from: 'a@example.com', to: ['b@example.net'], message }));
    expect(error.code).toBe('MESSAGE_SOURCE_FAILED');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(message.destroyed).toBe(true);
    expect(received).toContain('first part');
    expect(received).not.toContain('\r\n.\r\n');
  });

  it('fails with PROTOCOL when plaintext follows the 220 to STARTTLS (response injection)', async () => {
    const { port } = await serve((socket) => {
      socket.write('220 mitm.example ESMTP\r\n');
      lines(socket, (line) => {
        if (line.startsWith('EHLO')) socket.write('250-mitm.example\r\n250 STARTTLS\r\n');
        else if (line === 'STARTTLS') socket.write('220 go ahead\r\n250-mitm.example\r\n250 AUTH PLAIN\r\n');
      });
    });
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: quick }));
    expect(error.code).toBe('PROTOCOL');
    expect(error.message).toMatch(/in the clear after its 220 to STARTTLS/);
  });

  it('fails with CONNECT_FAILED when nothing listens', async () => {
    const server = await rawServer(() => {});
    const { port } = server;
    await server.close();
    const error = await failure(connect({ host: '127.0.0.1', port, timeouts: quick }));
    expect(error.code).toBe('CONNECT_FAILED');
    expect(error.transient).toBe(true);
  });

  it('fails with ABORTED when the signal fires while waiting', async () => {
    const { port } = await serve(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(connect({ host: '127.0.0.1', port, signal: controller.signal }));
    expect(error.code).toBe('ABORTED');
  });

  it('fails with ABORTED right away when the signal has already fired', async () => {
    const { port } = await serve(() => {});
    const error = await failure(connect({ host: '127.0.0.1', port, signal: AbortSignal.abort() }));
    expect(error.code).toBe('ABORTED');
  });
});
