import type { Socket } from 'node:net';
import { createResolver } from '@homing/dns';
import { lines, rawServer } from '@homing/test-peers';
import { describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent } from '../src/index';
import { isDeadSession } from '../src/internal/transaction';
import { useLoopbackMx } from './loopback-mx';

// A pooled session the server can no longer use must cost one more connection, never the
// recipients: the message goes once more, at once, on a fresh connection (issue 11 item 1).

const loopback = useLoopbackMx();
const { agents, closers } = loopback;

interface Received {
  connection: number;
  from: string;
  to: string[];
  body: string;
}

/**
 * A raw SMTP server. `onMail(socket, mailOnConnection)` may answer a MAIL itself (return true);
 * otherwise every command is accepted and each message recorded with its connection number.
 */
async function server(onMail: (socket: Socket, mailOnConnection: number, connection: number) => boolean) {
  const received: Received[] = [];
  const mails: string[] = [];
  let connections = 0;
  const open = new Set<Socket>();
  const raw = await rawServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const connection = ++connections;
    let mailCount = 0;
    let current: Received | undefined;
    let inData = false;
    socket.write('220 raw.example ESMTP\r\n');
    lines(socket, (line) => {
      if (inData) {
        if (line === '.') {
          inData = false;
          received.push(current!);
          socket.write('250 2.0.0 Queued\r\n');
        } else current!.body += `${line}\r\n`;
        return;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') socket.write('250-raw.example\r\n250 ENHANCEDSTATUSCODES\r\n');
      else if (verb === 'MAIL') {
        mails.push(line);
        mailCount += 1;
        if (onMail(socket, mailCount, connection)) return;
        current = { connection, from: line, to: [], body: '' };
        socket.write('250 2.1.0 Ok\r\n');
      } else if (verb === 'RCPT') {
        if (current === undefined) socket.write('503 5.5.1 Error: need MAIL command\r\n');
        else {
          current.to.push(line);
          socket.write('250 2.1.5 Ok\r\n');
        }
      } else if (verb === 'DATA') {
        if (current === undefined) socket.write('503 5.5.1 Error: need RCPT command\r\n');
        else {
          inData = true;
          socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        }
      } else if (verb === 'RSET') {
        current = undefined;
        socket.write('250 2.0.0 Ok\r\n');
      } else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
      else socket.write('250 Ok\r\n');
    });
  });
  closers.push(raw.close);
  return { ...raw, received, mails, sockets: () => [...open] };
}

function agent(port: number): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [loopback.dns.address] }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
    timeouts: {
      connectMs: 2000,
      greetingMs: 2000,
      commandMs: 2000,
      mailMs: 2000,
      rcptMs: 2000,
      dataStartMs: 2000,
      dataEndMs: 2000,
    },
  });
  agents.push(created);
  return created;
}

const first = 'Subject: first\r\n\r\nthe first message\r\n';
const second = 'Subject: second\r\n\r\nthe second message\r\n';

describe('a reused session that turns out unusable', { timeout: 20_000 }, () => {
  it('a pooled session the peer dropped while idle: the message goes again on a fresh connection', async () => {
    // The first connection takes one message, then drops the connection when the next MAIL comes:
    // the client only learns the session is dead when it uses it again.
    const peer = await server((socket, mail, connection) => {
      if (connection === 1 && mail === 2) {
        socket.destroy();
        return true;
      }
      return false;
    });
    const delivering = agent(peer.port);
    const one = await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, first);
    expect(one.recipients[0]!.status).toBe('delivered');
    const two = await delivering.deliver({ from: 'a@example.org', to: ['c@example.net'] }, second);
    expect(two.recipients[0]).toMatchObject({ recipient: 'c@example.net', status: 'delivered' });
    expect(peer.connections()).toBe(2);
    expect(peer.received.map((message) => [message.connection, message.to])).toEqual([
      [1, ['RCPT TO:<b@example.net>']],
      [2, ['RCPT TO:<c@example.net>']],
    ]);
    expect(peer.received[1]!.body).toContain('the second message');
  });

  it('a pooled session the peer closed while idle (421, then FIN) is not used again', async () => {
    const peer = await server(() => false);
    const delivering = agent(peer.port);
    await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, first);
    // The server times the idle session out, as Postfix does after smtpd_timeout.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(peer.connections()).toBe(1);
    for (const socket of peer.sockets()) socket.end('421 4.4.2 raw.example Error: timeout exceeded\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const two = await delivering.deliver({ from: 'a@example.org', to: ['c@example.net'] }, second);
    expect(two.recipients[0]!.status).toBe('delivered');
    expect(peer.received.map((message) => message.connection)).toEqual([1, 2]);
  });

  it('a 503 to MAIL on a reused session: sent again on a fresh connection, never failed', async () => {
    // Postfix answers `503 5.5.1 Error: nested MAIL command` when it still holds a transaction.
    const peer = await server((socket, mail) => {
      if (mail < 2) return false;
      socket.write('503 5.5.1 Error: nested MAIL command\r\n');
      return true;
    });
    const delivering = agent(peer.port);
    await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, first);
    const two = await delivering.deliver({ from: 'a@example.org', to: ['c@example.net'] }, second);
    expect(two.recipients[0]).toMatchObject({ status: 'delivered', mx: 'mx.example.net' });
    expect(peer.connections()).toBe(2);
    expect(peer.received.map((message) => message.connection)).toEqual([1, 2]);
    expect(peer.received[1]!.body).toContain('the second message');
  });

  it('retries once only: a fresh session that fails too defers, it does not fail', async () => {
    // Every connection after the first is dropped at its first MAIL: the retry cannot succeed.
    const peer = await server((socket, mail, connection) => {
      if (connection === 1 && mail === 1) return false;
      socket.destroy();
      return true;
    });
    const delivering = agent(peer.port);
    await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, first);
    const two = await delivering.deliver({ from: 'a@example.org', to: ['c@example.net'] }, second);
    expect(two.recipients[0]!.status).toBe('deferred');
    expect(peer.connections()).toBe(2);
  });

  it('a session whose end of data was refused is closed, not reused', async () => {
    let refuse = true;
    const peer = await rawServer((socket) => {
      let inData = false;
      socket.write('220 raw.example ESMTP\r\n');
      lines(socket, (line) => {
        if (inData) {
          if (line !== '.') return;
          inData = false;
          socket.write(refuse ? '550 5.7.1 Rejected at end of data\r\n' : '250 2.0.0 Queued\r\n');
          refuse = false;
          return;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'DATA') {
          inData = true;
          socket.write('354 Go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 Bye\r\n');
        else socket.write('250 Ok\r\n');
      });
    });
    closers.push(peer.close);
    const delivering = agent(peer.port);
    const one = await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, first);
    expect(one.recipients[0]).toMatchObject({ status: 'failed', enhanced: '5.7.1' });
    const two = await delivering.deliver({ from: 'a@example.org', to: ['c@example.net'] }, second);
    expect(two.recipients[0]!.status).toBe('delivered');
    expect(peer.connections()).toBe(2);
  });
});

describe('isDeadSession', () => {
  it("takes @homing/smtp's SESSION_UNUSABLE, a closed connection and a reset socket; nothing else", () => {
    expect(isDeadSession({ name: 'SmtpError', code: 'SESSION_UNUSABLE', transient: true })).toBe(true);
    expect(isDeadSession({ name: 'SmtpError', code: 'CONNECTION_CLOSED', transient: true })).toBe(true);
    expect(isDeadSession({ code: 'ECONNRESET' })).toBe(true);
    expect(isDeadSession({ name: 'SmtpError', code: 'TIMEOUT', transient: true })).toBe(false);
    expect(isDeadSession({ name: 'SmtpError', code: 'MESSAGE_TOO_BIG', transient: false })).toBe(false);
    expect(isDeadSession(undefined)).toBe(false);
  });
});
