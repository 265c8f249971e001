import type { Socket } from 'node:net';
import { lines, rawServer } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type SmtpClientError } from '../src/client';

// Issue 11 item 1, over real loopback sockets: a pooled session that the server ended while it sat
// idle, or that a server treats as stale, is SESSION_UNUSABLE (retry on a fresh connection), and
// the client never writes a body nobody of this message asked for.

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A small server: EHLO with PIPELINING, then `answer` decides each reply; records what came in. */
async function serve(answer: (line: string, socket: Socket, state: { mails: number }) => string | undefined) {
  const received: string[] = [];
  const sockets: Socket[] = [];
  const server = await rawServer((socket) => {
    sockets.push(socket);
    const state = { mails: 0, inData: false };
    socket.write('220 stale.example ESMTP\r\n');
    lines(socket, (line) => {
      received.push(line);
      if (state.inData) {
        if (line === '.') {
          state.inData = false;
          socket.write('250 2.0.0 queued\r\n');
        }
        return;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'MAIL') state.mails++;
      const out = verb === 'EHLO' ? '250-stale.example\r\n250 PIPELINING\r\n' : answer(line, socket, state);
      if (out === '354 go\r\n') state.inData = true;
      if (out !== undefined) socket.write(out);
    });
  });
  servers.push(server);
  return { port: server.port, received, sockets };
}

const ordinary = (line: string) => {
  const verb = line.slice(0, 4).toUpperCase();
  if (verb === 'DATA') return '354 go\r\n';
  if (verb === 'QUIT') return '221 bye\r\n';
  return '250 ok\r\n';
};

const message = (n: number) => ({ from: `sender${n}@example.com`, to: [`rcpt${n}@example.net`], message: `m${n}\r\n` });

async function failure(promise: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await promise;
  } catch (error) {
    return error as SmtpClientError;
  }
  throw new Error('expected a failure');
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('a reused client session', { timeout: 15_000 }, () => {
  it('closed by the server while idle: the next send is SESSION_UNUSABLE, transient, nothing written', async () => {
    const server = await serve(ordinary);
    const client = await connect({ host: '127.0.0.1', port: server.port });
    expect((await client.send(message(1))).accepted).toHaveLength(1);
    const before = server.received.length;
    server.sockets[0]!.end();
    await until(() => !client.usable);
    const error = await failure(client.send(message(2)));
    expect(error.code).toBe('SESSION_UNUSABLE');
    expect(error.transient).toBe(true);
    expect((error.cause as SmtpClientError).code).toBe('CONNECTION_CLOSED');
    expect(server.received.slice(before)).toEqual([]);
    await client.close();
  });

  it('reset by the server while idle: the next send is SESSION_UNUSABLE', async () => {
    const server = await serve(ordinary);
    const client = await connect({ host: '127.0.0.1', port: server.port });
    await client.send(message(1));
    server.sockets[0]!.resetAndDestroy();
    await until(() => !client.usable);
    const error = await failure(client.send(message(2)));
    expect(error.code).toBe('SESSION_UNUSABLE');
    await client.close();
  });

  it('closed by the server as our MAIL goes out: SESSION_UNUSABLE', async () => {
    const server = await serve((line, socket, state) => {
      if (state.mails === 2) {
        socket.destroy();
        return undefined;
      }
      return ordinary(line);
    });
    const client = await connect({ host: '127.0.0.1', port: server.port });
    await client.send(message(1));
    const error = await failure(client.send(message(2)));
    expect(error.code).toBe('SESSION_UNUSABLE');
    expect(error.transient).toBe(true);
  });

  it('503 to MAIL (the server kept an old transaction): SESSION_UNUSABLE, and no "." for the stale 354', async () => {
    const server = await serve((line, _socket, state) => {
      const verb = line.slice(0, 4).toUpperCase();
      // Postfix after a refusal at the end of data: MAIL is nested, RCPT and DATA go to the old transaction.
      if (state.mails === 2 && verb === 'MAIL') return '503 5.5.1 Error: nested MAIL command\r\n';
      if (verb === 'DATA') return '354 go\r\n';
      return '250 ok\r\n';
    });
    const client = await connect({ host: '127.0.0.1', port: server.port });
    await client.send(message(1));
    const before = server.received.length;
    const error = await failure(client.send(message(2)));
    expect(error.code).toBe('SESSION_UNUSABLE');
    expect(error.transient).toBe(true);
    expect(error.reply?.code).toBe(503);
    expect(client.usable).toBe(false);
    await until(() => server.sockets[0]!.closed);
    expect(server.received.slice(before)).toEqual([
      'MAIL FROM:<sender2@example.com>',
      'RCPT TO:<rcpt2@example.net>',
      'DATA',
    ]);
  });

  it('503 to the first MAIL of a session is an ordinary refusal, not SESSION_UNUSABLE', async () => {
    const server = await serve((line) =>
      /^(MAIL|RCPT|DATA)/.test(line) ? '503 5.5.1 Error: bad sequence\r\n' : ordinary(line),
    );
    const client = await connect({ host: '127.0.0.1', port: server.port });
    const result = await client.send(message(1));
    expect(result.rejected.map((r) => r.reply.code)).toEqual([503]);
    expect(client.usable).toBe(true);
    await client.close();
  });
});
