import { certificateFiles } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { type Decision, ServerSession } from '../src/index';
import { createServer, type Logger, type SmtpServer, type SmtpServerOptions } from '../src/server';
import { LineClient } from './helpers/line-client';

// Issue 11 item 4: a hook's decision cannot put one reply on the wire while the session counts
// another. A decision whose code disagrees with its action is the hook's error: the server answers
// `451 4.3.0 Temporary server error` (as for a hook that throws), logs `smtp bad-decision`, and
// the session goes on as if the command had been refused.

const servers: SmtpServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

const TEMPORARY = '451 4.3.0 Temporary server error\r\n';

async function start(options: SmtpServerOptions) {
  const logged: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (object, message) => logged.push(`${message} ${(object as { event?: string }).event}`),
  };
  const server = createServer({ hostname: 'mx.test', logger, ...options });
  servers.push(server);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const client = await LineClient.open(port);
  clients.push(client);
  return { server, client, logged };
}

describe('a hook decision whose code disagrees with its action', () => {
  it('connect: accept with 554 is refused; the client gets 451 and is not greeted', async () => {
    const { client, logged } = await start({ hooks: { connect: () => ({ action: 'accept', code: 554, text: 'x' }) } });
    expect(await client.reply()).toBe(TEMPORARY);
    expect(await client.command('EHLO c')).toMatch(/^503 /);
    expect(logged).toEqual(['smtp bad-decision Connect']);
  });

  it('helo: accept with 550 is refused; MAIL then needs a HELO first', async () => {
    const { client, logged } = await start({ hooks: { helo: () => ({ action: 'accept', code: 550, text: 'no' }) } });
    await client.reply();
    expect(await client.command('EHLO c')).toBe(TEMPORARY);
    expect(await client.command('MAIL FROM:<a@a.test>')).toMatch(/^503 5\.5\.1 /);
    expect(logged).toEqual(['smtp bad-decision Hello']);
  });

  it('mail: accept with 550 is refused; RCPT then has no transaction', async () => {
    const { client, logged } = await start({ hooks: { mail: () => ({ action: 'accept', code: 550, text: 'no' }) } });
    await client.reply();
    await client.command('EHLO c');
    expect(await client.command('MAIL FROM:<a@a.test>')).toBe(TEMPORARY);
    expect(await client.command('RCPT TO:<b@b.test>')).toMatch(/^503 5\.5\.1 /);
    expect(logged).toEqual(['smtp bad-decision MailFrom']);
  });

  it('rcpt: accept with 550 is refused and the recipient is not counted, so DATA finds none', async () => {
    const seen: number[] = [];
    const { client, logged } = await start({
      hooks: {
        rcpt: () => ({ action: 'accept', code: 550, enhanced: '5.1.1', text: 'No such user' }),
        data: (session) => {
          seen.push(session.envelope.to.length);
          return { action: 'accept' };
        },
      },
    });
    await client.reply();
    await client.command('EHLO c');
    await client.command('MAIL FROM:<a@a.test>');
    expect(await client.command('RCPT TO:<b@b.test>')).toBe(TEMPORARY);
    expect(await client.command('DATA')).toBe('554 5.5.1 No valid recipients\r\n');
    expect(seen).toEqual([]);
    expect(logged).toEqual(['smtp bad-decision RcptTo']);
  });

  it('rcpt: accept with a 4.x.x enhanced code is refused too', async () => {
    const { client } = await start({ hooks: { rcpt: () => ({ action: 'accept', enhanced: '4.2.1' }) } });
    await client.reply();
    await client.command('EHLO c');
    await client.command('MAIL FROM:<a@a.test>');
    expect(await client.command('RCPT TO:<b@b.test>')).toBe(TEMPORARY);
  });

  it('data: accept with 451 is refused; the message is not counted as accepted', async () => {
    const { server, client, logged } = await start({
      hooks: {
        data: async (_session, message) => {
          for await (const _ of message.body);
          return { action: 'accept', code: 451, text: 'queued?' };
        },
      },
    });
    await client.reply();
    await client.command('EHLO c');
    client.send('MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n');
    await client.reply();
    await client.reply();
    expect(await client.reply()).toMatch(/^354 /);
    expect(await client.command('hello\r\n.')).toBe(TEMPORARY);
    expect(server.stats().messages).toBe(0);
    expect(logged).toEqual(['smtp bad-decision MessageEnd']);
  });

  it('auth: accept with 535 is refused; the user is not authenticated', async () => {
    const certificate = certificateFiles();
    const users: (string | undefined)[] = [];
    const { client, logged } = await start({
      tls: { key: certificate.key, cert: certificate.cert },
      hooks: {
        auth: () => ({ action: 'accept', code: 535, enhanced: '5.7.8', text: 'Bad credentials' }),
        mail: (session) => {
          users.push(session.user);
          return { action: 'accept' };
        },
      },
    });
    await client.reply();
    await client.command('EHLO c');
    await client.command('STARTTLS');
    await client.startTls();
    await client.command('EHLO c');
    expect(await client.command('AUTH PLAIN AHVzZXIAc2VjcmV0')).toBe(TEMPORARY);
    expect(await client.command('MAIL FROM:<a@a.test>')).toBe('250 2.1.0 OK\r\n');
    expect(users).toEqual([undefined]);
    expect(logged).toEqual(['smtp bad-decision Authenticate']);
  });

  it('reject with a 2xx code, or with an enhanced code of another class, is refused', async () => {
    const { client, logged } = await start({
      hooks: {
        mail: (_session, from) =>
          from?.localPart === 'two'
            ? ({ action: 'reject', code: 250, text: 'fine?' } as Decision)
            : { action: 'reject', code: 550, enhanced: '2.1.0', text: 'no?' },
      },
    });
    await client.reply();
    await client.command('EHLO c');
    expect(await client.command('MAIL FROM:<two@a.test>')).toBe(TEMPORARY);
    expect(await client.command('MAIL FROM:<five@a.test>')).toBe(TEMPORARY);
    expect(logged).toEqual(['smtp bad-decision MailFrom', 'smtp bad-decision MailFrom']);
  });
});

describe('ServerSession.send with a decision that disagrees with its action', () => {
  it('throws SMTP_LOCAL_PROTOCOL and changes nothing, so another decision can still answer', () => {
    const session = new ServerSession();
    expect(session.nextEvent()).toMatchObject({ type: 'Connect' });
    session.send({ action: 'accept' });
    session.receiveData(Buffer.from('EHLO c\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n'));
    session.nextEvent();
    session.send({ action: 'accept' });
    session.nextEvent();
    session.send({ action: 'accept' });
    expect(session.nextEvent()).toMatchObject({ type: 'RcptTo' });
    let code: string | undefined;
    try {
      session.send({ action: 'accept', code: 550, text: 'No such user' });
    } catch (error) {
      code = (error as { code?: string }).code;
    }
    expect(code).toBe('SMTP_LOCAL_PROTOCOL');
    expect(session.state).toBe('MAIL_FROM');
    expect(session.send({ action: 'accept', code: 251, text: 'User not local; will forward' })).toBe(
      '251 2.1.5 User not local; will forward\r\n',
    );
    expect(session.state).toBe('RCPT_TO');
  });
});
