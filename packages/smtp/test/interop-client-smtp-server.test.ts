import { Readable } from 'node:stream';
import { selfSignedCertificate } from '@homing/test-peers';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type SmtpClientError } from '../src/client';

// nodemailer's smtp-server: a server nobody here wrote, with real STARTTLS, implicit TLS and AUTH.
interface Received {
  from: string;
  to: string[];
  user: unknown;
  secure: boolean;
  body: Buffer;
  mailArgs: unknown;
}

let certificate: { key: Buffer; cert: Buffer };
const servers: SMTPServer[] = [];

beforeAll(() => {
  certificate = selfSignedCertificate();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((done) => s.close(() => done()))));
});

async function startServer(options: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const mailFromCalls: string[] = [];
  const server = new SMTPServer({
    key: certificate.key,
    cert: certificate.cert,
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    closeTimeout: 1000,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === 'alice' && auth.password === 's3cret') callback(null, { user: 'alice' });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onMailFrom(address, _session, callback) {
      mailFromCalls.push(address.address);
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('unknown@')) {
        callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
      } else callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user,
          secure: session.secure,
          body: Buffer.concat(chunks),
          mailArgs: session.envelope.mailFrom ? session.envelope.mailFrom.args : undefined,
        });
        callback();
      });
    },
    ...options,
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { port: address.port, received, mailFromCalls };
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

const credentials = { user: 'alice', pass: 's3cret' };

describe("@homing/smtp/client against nodemailer's smtp-server", { timeout: 30_000 }, () => {
  it('upgrades with STARTTLS, authenticates with AUTH PLAIN and sends two messages on one connection', async () => {
    const { port, received } = await startServer();
    const client = await connect({ host: '127.0.0.1', port, hostname: 'client.example', auth: credentials });
    expect(client.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    // Opportunistic TLS does not verify (RFC 7435), but says the chain did not verify and shows the certificate.
    expect(client.tls?.authorized).toBe(false);
    expect(client.tls?.authorizationError).toMatch(/SELF_SIGNED|self.signed/i);
    expect(client.tls?.peerCertificate.subject.CN).toBe('localhost');
    expect(client.authenticated).toBe(true);
    expect(client.extensions.auth).toEqual(['PLAIN', 'LOGIN']);

    const first = await client.send({
      from: 'alice@example.com',
      to: ['bob@example.net'],
      message: 'Subject: 1\r\n\r\n.dot\r\nbody\r\n',
    });
    const second = await client.send({
      from: 'alice@example.com',
      to: ['carol@example.net'],
      message: 'Subject: 2\n\nlf body\n',
    });
    expect(first.accepted.map((r) => r.address)).toEqual(['bob@example.net']);
    expect(second.accepted.map((r) => r.address)).toEqual(['carol@example.net']);
    await client.close();

    expect(received).toHaveLength(2);
    expect(received.map((r) => [r.from, r.to, r.user, r.secure])).toEqual([
      ['alice@example.com', ['bob@example.net'], 'alice', true],
      ['alice@example.com', ['carol@example.net'], 'alice', true],
    ]);
    expect(received[0]?.body.toString()).toBe('Subject: 1\r\n\r\n.dot\r\nbody\r\n');
    expect(received[1]?.body.toString()).toBe('Subject: 2\r\n\r\nlf body\r\n');
  });

  it('authenticates with AUTH LOGIN when asked to', async () => {
    const { port, received } = await startServer();
    const client = await connect({ host: '127.0.0.1', port, auth: { ...credentials, method: 'LOGIN' } });
    expect(client.authenticated).toBe(true);
    await client.send({ from: 'alice@example.com', to: ['bob@example.net'], message: 'hi\r\n' });
    await client.close();
    expect(received[0]?.user).toBe('alice');
  });

  it('fails with a permanent AUTH_FAILED on wrong credentials', async () => {
    const { port } = await startServer();
    const error = await failure(connect({ host: '127.0.0.1', port, auth: { user: 'alice', pass: 'wrong' } }));
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.reply?.code).toBe(535);
    expect(error.transient).toBe(false);
  });

  it('verifies the certificate with required TLS and the right CA', async () => {
    const { port } = await startServer();
    const client = await connect({
      host: '127.0.0.1',
      port,
      tls: { mode: 'required', ca: certificate.cert, servername: 'localhost' },
    });
    expect(client.tls?.authorized).toBe(true);
    await client.close();
  });

  it('fails with TLS_FAILED when required TLS meets a certificate it cannot verify', async () => {
    const { port } = await startServer();
    const error = await failure(connect({ host: '127.0.0.1', port, tls: { mode: 'required' } }));
    expect(error.code).toBe('TLS_FAILED');
    expect(error.transient).toBe(true);
  });

  it('fails with TLS_UNAVAILABLE when TLS is required and STARTTLS is hidden', async () => {
    const { port, mailFromCalls } = await startServer({ hideSTARTTLS: true });
    const error = await failure(connect({ host: '127.0.0.1', port, tls: { mode: 'required' } }));
    expect(error.code).toBe('TLS_UNAVAILABLE');
    expect(mailFromCalls).toEqual([]);
  });

  it('refuses to send credentials in the clear', async () => {
    const { port } = await startServer({ hideSTARTTLS: true, allowInsecureAuth: true });
    const error = await failure(connect({ host: '127.0.0.1', port, auth: credentials }));
    expect(error.code).toBe('AUTH_UNAVAILABLE');
    const insecure = await connect({ host: '127.0.0.1', port, auth: { ...credentials, allowInsecure: true } });
    expect(insecure.authenticated).toBe(true);
    expect(insecure.tls).toBeUndefined();
    await insecure.close();
  });

  it('speaks implicit TLS (RFC 8314)', async () => {
    const { port, received } = await startServer({ secure: true });
    const client = await connect({
      host: '127.0.0.1',
      port,
      tls: { mode: 'implicit', ca: certificate.cert, servername: 'localhost' },
      auth: credentials,
    });
    expect(client.tls?.authorized).toBe(true);
    await client.send({ from: 'alice@example.com', to: ['bob@example.net'], message: 'hi\r\n' });
    await client.close();
    expect(received[0]?.secure).toBe(true);
  });

  it('reports per-recipient results and delivers to the accepted ones only', async () => {
    const { port, received } = await startServer();
    const client = await connect({ host: '127.0.0.1', port });
    const result = await client.send({
      from: 'alice@example.com',
      to: ['bob@example.net', 'unknown@example.net', 'carol@example.net'],
      message: 'hi\r\n',
    });
    expect(result.accepted.map((r) => r.address)).toEqual(['bob@example.net', 'carol@example.net']);
    expect(result.rejected.map((r) => [r.address, r.reply.code, r.reply.enhanced])).toEqual([
      ['unknown@example.net', 550, '5.1.1'],
    ]);
    await client.close();
    expect(received[0]?.to).toEqual(['bob@example.net', 'carol@example.net']);
  });

  it("refuses a message over the server's SIZE before sending anything, and the connection stays usable", async () => {
    const { port, received, mailFromCalls } = await startServer({ size: 1000 });
    const client = await connect({ host: '127.0.0.1', port });
    expect(client.extensions.size).toBe(1000);
    const error = await failure(
      client.send({ from: 'alice@example.com', to: ['bob@example.net'], message: 'x'.repeat(2000) }),
    );
    expect(error.code).toBe('MESSAGE_TOO_BIG');
    expect(error.transient).toBe(false);
    expect(mailFromCalls).toEqual([]);
    const ok = await client.send({ from: 'alice@example.com', to: ['bob@example.net'], message: 'small\r\n' });
    expect(ok.accepted).toHaveLength(1);
    await client.close();
    expect(received).toHaveLength(1);
    expect(received[0]?.mailArgs).toMatchObject({ SIZE: '7' });
  });

  it('sends SMTPUTF8 and 8BITMIME for a UTF-8 address and body, and refuses them when SMTPUTF8 is hidden', async () => {
    const { port, received } = await startServer();
    const client = await connect({ host: '127.0.0.1', port });
    expect(client.extensions.smtpUtf8).toBe(true);
    await client.send({ from: 'jörg@example.com', to: ['bob@example.net'], message: 'Subject: Grüße\r\n\r\nÄ\r\n' });
    await client.close();
    expect(received[0]?.from).toBe('jörg@example.com');
    expect(received[0]?.mailArgs).toMatchObject({ SMTPUTF8: true, BODY: '8BITMIME' });
    expect(received[0]?.body.toString('utf8')).toBe('Subject: Grüße\r\n\r\nÄ\r\n');

    const hidden = await startServer({ hideSMTPUTF8: true });
    const other = await connect({ host: '127.0.0.1', port: hidden.port });
    const error = await failure(other.send({ from: 'jörg@example.com', to: ['bob@example.net'], message: 'x\r\n' }));
    expect(error.code).toBe('SMTPUTF8_UNSUPPORTED');
    expect(hidden.mailFromCalls).toEqual([]);
    await other.close();
  });

  it('streams a large Readable message with back-pressure and delivers it byte for byte', async () => {
    const { port, received } = await startServer();
    const client = await connect({ host: '127.0.0.1', port });
    const line = `${'a'.repeat(70)}\r\n.${'b'.repeat(70)}\r\n`;
    const count = 40_000;
    const message = Readable.from(
      (function* () {
        for (let i = 0; i < count; i += 100) yield Buffer.from(line.repeat(100));
      })(),
    );
    const result = await client.send({ from: 'alice@example.com', to: ['bob@example.net'], message });
    expect(result.accepted).toHaveLength(1);
    await client.close();
    expect(received[0]?.body.length).toBe(line.length * count);
    expect(received[0]?.body.subarray(0, line.length).toString()).toBe(line);
  });
});
