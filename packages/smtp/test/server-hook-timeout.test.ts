// limits.hookTimeoutMs: the client is never kept waiting for us without end. A hook that never
// decides, and a data hook that stops reading the body (a queue that no longer writes), get the
// client a `421 4.3.0` at the limit and the connection closed, with the hooks' signal aborted and
// one `smtp hook-timeout` log line; a data hook that reads slowly but steadily, for far longer
// than the limit, is not cut. Real sockets on loopback, a short limit.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Logger, type SessionInfo, type SmtpServer, type SmtpServerOptions } from '../src/server';
import { LineClient } from './helpers/line-client';

const LIMIT_MS = 400;
const servers: SmtpServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 500 })));
});

function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (fields: object, message?: string) =>
    lines.push({ message: message ?? '', fields: fields as Record<string, unknown> });
  const logger: Logger = { debug: record, info: record, warn: record, error: record };
  return { logger, timeouts: () => lines.filter((line) => line.message === 'smtp hook-timeout') };
}

async function start(hooks: SmtpServerOptions['hooks']) {
  const { logger, timeouts } = recordingLogger();
  const server = createServer({
    hostname: 'mx.test',
    limits: { hookTimeoutMs: LIMIT_MS, idleTimeoutMs: 60_000 },
    hooks,
    logger,
  });
  servers.push(server);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const client = await LineClient.open(port);
  clients.push(client);
  // The server may reset a connection it closes with unread input (the stalled body).
  client.socket.on('error', () => {});
  expect(await client.reply()).toMatch(/^220 /);
  return { client, timeouts };
}

const never = () => new Promise<never>(() => {});

describe('limits.hookTimeoutMs', () => {
  it('answers 421 4.3.0 and closes when a hook never decides, aborting its signal', { timeout: 30_000 }, async () => {
    let seen: SessionInfo | undefined;
    const { client, timeouts } = await start({
      mail: (session) => {
        seen = session;
        return never();
      },
    });
    await client.command('EHLO client.test');
    const asked = performance.now();
    client.send('MAIL FROM:<a@client.test>\r\n');
    expect(await client.reply(10_000)).toBe(
      '421 4.3.0 mx.test Timed out processing the command, closing connection\r\n',
    );
    const waited = performance.now() - asked;
    expect(waited).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(waited).toBeLessThan(LIMIT_MS + 3000);
    await client.waitClosed(10_000);
    expect(seen?.signal.aborted).toBe(true);
    expect(timeouts().map((line) => line.fields)).toEqual([
      expect.objectContaining({ address: '127.0.0.1', waiting: 'decision' }),
    ]);
  });

  it('answers 421 4.3.0 and closes when a data hook stops reading the body', { timeout: 30_000 }, async () => {
    let bodyError: unknown;
    const { client, timeouts } = await start({
      data: async (_session, message) => {
        // Reads one chunk, then never again (a queue write that hangs); the body stream errors at the close.
        message.body.once('error', (error) => {
          bodyError = error;
        });
        await new Promise((resolve) => message.body.once('data', resolve));
        message.body.pause();
        return never();
      },
    });
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<a@client.test>');
    await client.command('RCPT TO:<b@mx.test>');
    expect(await client.command('DATA')).toMatch(/^354 /);
    // 8 MiB: far more than the socket buffers and the stream's high-water mark hold.
    const line = `${'x'.repeat(998)}\r\n`;
    for (let i = 0; i < 8 * 1024; i++) client.send(line);
    expect(await client.reply(10_000)).toMatch(/^421 4\.3\.0 /);
    await client.waitClosed(10_000);
    expect(bodyError).toBeInstanceOf(Error);
    expect(timeouts().map((line) => line.fields)).toEqual([expect.objectContaining({ waiting: 'body' })]);
  });

  it('lets a data hook that reads slowly but steadily take far longer than the limit', async () => {
    const { client, timeouts } = await start({
      data: async (_session, message) => {
        let size = 0;
        for await (const chunk of message.body) {
          size += (chunk as Buffer).length;
          // A chunk every 150 ms: the 4 MB below take seconds, while the limit is 0.4 s.
          await new Promise((r) => setTimeout(r, 150));
        }
        return { action: 'accept', text: `read ${size}` };
      },
    });
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<a@client.test>');
    await client.command('RCPT TO:<b@mx.test>');
    expect(await client.command('DATA')).toMatch(/^354 /);
    const started = performance.now();
    const line = `${'y'.repeat(998)}\r\n`;
    for (let i = 0; i < 4 * 1024; i++) client.send(line);
    client.send('.\r\n');
    expect(await client.reply(30_000)).toMatch(/^250 .*read 4096000/);
    expect(performance.now() - started).toBeGreaterThan(3 * LIMIT_MS);
    expect(timeouts()).toEqual([]);
  }, 40_000);
});
