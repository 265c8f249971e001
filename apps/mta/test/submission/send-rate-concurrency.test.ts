// limits.send_rate under concurrent sessions of one user (real SMTP sessions over implicit TLS to
// a real `homing start`): ten sessions of alice that all authenticate, then all say MAIL at once
// and send their message, get exactly `count` messages through, never more; a transaction that
// fails (its DATA refused, or the client gone before the end) gives its place back.
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, type HomingServer, startHoming } from '../server/harness';

const PLAIN = Buffer.from('\0alice@example.org\0alice-password').toString('base64');

/** One submission session over implicit TLS, command by command. */
async function session(port: number) {
  const socket: TLSSocket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false });
  socket.on('error', () => {});
  let buffer = '';
  const replies: string[] = [];
  const waiters: ((reply: string) => void)[] = [];
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const match = /^(?:\d{3}-[^\r]*\r\n)*\d{3}(?: [^\r]*)?\r\n/.exec(buffer);
      if (!match) break;
      buffer = buffer.slice(match[0].length);
      const reply = match[0].trimEnd();
      const waiter = waiters.shift();
      if (waiter) waiter(reply);
      else replies.push(reply);
    }
  });
  socket.once('close', () => {
    for (const waiter of waiters.splice(0)) waiter('closed');
  });
  const next = () =>
    new Promise<string>((resolve) => {
      const ready = replies.shift();
      if (ready !== undefined) resolve(ready);
      else if (socket.destroyed) resolve('closed');
      else waiters.push(resolve);
    });
  const send = (line: string) => {
    socket.write(`${line}\r\n`);
    return next();
  };
  expect(await next()).toMatch(/^220 /);
  expect(await send('EHLO laptop.test')).toMatch(/^250/);
  expect(await send(`AUTH PLAIN ${PLAIN}`)).toMatch(/^235 /);
  return { send, socket, close: () => socket.destroy() };
}

type Session = Awaited<ReturnType<typeof session>>;

/** MAIL, RCPT, DATA and a message; resolves the MAIL reply when refused, else the reply after the data. */
async function transaction(s: Session, subject: string, from = 'alice@example.org'): Promise<string> {
  const mail = await s.send('MAIL FROM:<alice@example.org>');
  if (!mail.startsWith('250')) return mail;
  expect(await s.send('RCPT TO:<alice@example.org>')).toMatch(/^250/);
  expect(await s.send('DATA')).toMatch(/^354/);
  return s.send(`From: ${from}\r\nTo: alice@example.org\r\nSubject: ${subject}\r\n\r\nHi.\r\n.`);
}

describe('limits.send_rate with concurrent sessions of one user', () => {
  let server: HomingServer | undefined;
  const sessions: Session[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) s.close();
    await cleanUp(server);
    server = undefined;
  });

  it('lets exactly 3 of 10 concurrent sessions send under 3/h', async () => {
    server = await startHoming({ extraConfig: 'limits:\n  send_rate: 3/h' });
    const port = server.submissionsPort;
    sessions.push(...(await Promise.all(Array.from({ length: 10 }, () => session(port)))));
    // All ten are authenticated before any says MAIL; then all send at once.
    const results = await Promise.all(sessions.map((s, n) => transaction(s, `concurrent ${n}`)));
    const accepted = results.filter((r) => r.startsWith('250'));
    const refused = results.filter((r) => /^450 4\.7\.1 Sending rate of 3\/h exceeded/.test(r));
    process.stdout.write(`send_rate 3/h, 10 concurrent sessions: ${accepted.length} accepted\n`);
    expect({ accepted: accepted.length, refused: refused.length }).toEqual({ accepted: 3, refused: 7 });
    // What reached the Maildir, not only the replies.
    await server.waitForMail('alice@example.org', 3);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.maildir('alice@example.org').length).toBe(3);
  }, 60_000);

  it('gives the place of a failed transaction back: a refused DATA, a client gone after MAIL', async () => {
    server = await startHoming({ extraConfig: 'limits:\n  send_rate: 2/h' });
    const port = server.submissionsPort;
    const [gone, refusedData, first, second, third] = await Promise.all(Array.from({ length: 5 }, () => session(port)));
    sessions.push(gone!, refusedData!, first!, second!, third!);
    // One place is held by a session between MAIL and DATA, the other by one whose From: is not alice's.
    expect(await gone!.send('MAIL FROM:<alice@example.org>')).toMatch(/^250/);
    const notOurs = await transaction(refusedData!, 'forged', 'bob@elsewhere.test');
    expect(notOurs).toMatch(/^5\d\d /);
    // While `gone` holds its place, only one more message fits in 2/h.
    expect(await transaction(first!, 'first')).toMatch(/^250 /);
    expect(await transaction(second!, 'second')).toMatch(/^450 4\.7\.1 /);
    // The client leaves without sending: its place is free again.
    gone!.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(await transaction(third!, 'third')).toMatch(/^250 /);
    expect(await transaction(second!, 'second again')).toMatch(/^450 4\.7\.1 /);
  }, 60_000);
});
