import { selfSignedCertificate } from '@homing/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type SmtpClientError } from '../src/client';
import { createServer, type SmtpServer, type SmtpServerOptions } from '../src/server';

// Our client against our server over real sockets: BDAT, STARTTLS, AUTH and DSN both ways.
interface Delivered {
  mode: string;
  body: Buffer;
  from: string | undefined;
  to: string[];
  user: string | undefined;
  secure: boolean;
  notify: unknown;
}

let certificate: { key: Buffer; cert: Buffer };
const servers: SmtpServer[] = [];
beforeAll(() => {
  certificate = selfSignedCertificate();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

async function start(options: Partial<SmtpServerOptions> = {}) {
  const delivered: Delivered[] = [];
  const server = createServer({
    hostname: 'mx.example.net',
    tls: { key: certificate.key, cert: certificate.cert },
    hooks: {
      auth: (_session, credentials) =>
        credentials.username === 'alice' && credentials.password === 's3cret'
          ? { action: 'accept' }
          : { action: 'reject', code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
      rcpt: (_session, to) =>
        to.localPart === 'unknown'
          ? { action: 'reject', code: 550, enhanced: '5.1.1', text: 'No such user' }
          : { action: 'accept' },
      data: async (session, message) => {
        const chunks: Buffer[] = [];
        for await (const chunk of message.body) chunks.push(chunk as Buffer);
        delivered.push({
          mode: message.mode,
          body: Buffer.concat(chunks),
          from: session.envelope.from?.address,
          to: session.envelope.to.map((r) => r.mailbox.address),
          user: session.user,
          secure: session.secure,
          notify: session.envelope.to[0]?.params.notify,
        });
        return { action: 'accept' };
      },
    },
    ...options,
  });
  servers.push(server);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  return { port, delivered };
}

const tls = () => ({ mode: 'required' as const, ca: certificate.cert, servername: 'localhost' });

describe('@homing/smtp/client to @homing/smtp/server', { timeout: 30_000 }, () => {
  it('delivers over verified STARTTLS with AUTH, by BDAT, byte for byte', async () => {
    const { port, delivered } = await start();
    const client = await connect({ host: '127.0.0.1', port, tls: tls(), auth: { user: 'alice', pass: 's3cret' } });
    expect(client.tls?.authorized).toBe(true);
    expect(client.extensions.chunking).toBe(true);
    const body = Buffer.from(`Subject: big\n\n.starts with a dot\n${'y'.repeat(900)}\n`.repeat(3000));
    const result = await client.send({
      from: 'alice@example.com',
      to: ['bob@example.net', 'unknown@example.net'],
      message: body,
    });
    expect(result.accepted.map((r) => r.address)).toEqual(['bob@example.net']);
    expect(result.rejected.map((r) => [r.address, r.reply.code, r.reply.enhanced])).toEqual([
      ['unknown@example.net', 550, '5.1.1'],
    ]);
    await client.close();
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ mode: 'BDAT', user: 'alice', secure: true, to: ['bob@example.net'] });
    expect(delivered[0]?.body.equals(Buffer.from(body.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'))).toBe(true);
  });

  it('delivers by DATA with dot-stuffing when chunking is off, several messages per connection', async () => {
    const { port, delivered } = await start();
    const client = await connect({ host: '127.0.0.1', port, tls: tls(), chunking: false });
    for (let i = 0; i < 3; i++) {
      const result = await client.send({
        from: '',
        to: [`r${i}@example.net`],
        message: `Subject: ${i}\r\n\r\n.\r\n..\r\nend`,
      });
      expect(result.accepted).toHaveLength(1);
    }
    await client.close();
    expect(delivered.map((d) => [d.mode, d.from, d.body.toString()])).toEqual(
      [0, 1, 2].map((i) => ['DATA', undefined, `Subject: ${i}\r\n\r\n.\r\n..\r\nend\r\n`]),
    );
  });

  it('passes DSN parameters and SMTPUTF8 through', async () => {
    const { port, delivered } = await start();
    const client = await connect({ host: '127.0.0.1', port, tls: tls() });
    await client.send({
      from: 'jörg@bücher.example',
      to: [{ address: 'bob@example.net', notify: ['FAILURE', 'DELAY'] }],
      message: 'Subject: x\r\n\r\nx\r\n',
      params: { ret: 'HDRS', envelopeId: 'abc+1' },
    });
    await client.close();
    expect(delivered[0]?.from).toMatch(/^jörg@/);
    expect(delivered[0]?.notify).toEqual(['FAILURE', 'DELAY']);
  });

  it("refuses a message over the server's SIZE before sending it", async () => {
    const { port, delivered } = await start({ limits: { maxMessageSize: 1000 } });
    const client = await connect({ host: '127.0.0.1', port, tls: tls() });
    const error = await client
      .send({ from: 'a@example.com', to: ['b@example.net'], message: 'x'.repeat(1001) })
      .catch((e: SmtpClientError) => e);
    expect((error as SmtpClientError).code).toBe('MESSAGE_TOO_BIG');
    expect(client.usable).toBe(true);
    await client.close();
    expect(delivered).toEqual([]);
  });

  it("notices the server's idle-timeout 421 and stops offering the connection", async () => {
    const { port } = await start({ limits: { idleTimeoutMs: 200 } });
    const client = await connect({ host: '127.0.0.1', port, tls: tls() });
    expect(client.usable).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(client.usable).toBe(false);
    const error = await client
      .send({ from: 'a@example.com', to: ['b@example.net'], message: 'x\r\n' })
      .catch((e: SmtpClientError) => e);
    // Found dead while idle: the delivery layer retries such a message on a fresh connection.
    expect((error as SmtpClientError).code).toBe('SESSION_UNUSABLE');
    expect(((error as SmtpClientError).cause as SmtpClientError).code).toBe('SERVICE_UNAVAILABLE');
    expect((error as SmtpClientError).transient).toBe(true);
    await client.close();
  });

  it('gets a permanent AUTH_FAILED for wrong credentials', async () => {
    const { port } = await start();
    const error = await connect({ host: '127.0.0.1', port, tls: tls(), auth: { user: 'alice', pass: 'nope' } }).catch(
      (e: SmtpClientError) => e,
    );
    expect((error as SmtpClientError).code).toBe('AUTH_FAILED');
    expect((error as SmtpClientError).reply?.enhanced).toBe('5.7.8');
    expect((error as SmtpClientError).transient).toBe(false);
  });
});
