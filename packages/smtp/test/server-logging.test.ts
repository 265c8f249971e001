import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Logger, type SmtpServer } from '../src/server';
import { LineClient } from './helpers/line-client';

const servers: SmtpServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (fields: object, message: string) =>
    lines.push({ message, fields: fields as Record<string, unknown> });
  const logger: Logger = { debug: record, info: record, warn: record, error: record };
  return { logger, lines };
}

// What fail2ban reads: every refused command is one `smtp failed-command` with the client's
// address, the command as sent (credentials never), and the reply.
describe('the server log of refused commands', () => {
  it('logs a refused AUTH with its mechanism only, never the credentials', async () => {
    const { logger, lines } = recordingLogger();
    const server = createServer({ hostname: 'mx.test', logger });
    servers.push(server);
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    const client = await LineClient.open(port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO client.test');
    expect(await client.command('AUTH PLAIN AGFsaWNlAHNlY3JldA==')).toMatch(/^503 5\.5\.1 /);
    const failed = lines.find((line) => line.message === 'smtp failed-command');
    expect(failed?.fields).toMatchObject({
      address: '127.0.0.1',
      command: 'AUTH PLAIN',
      result: '503 5.5.1 AUTH not available',
    });
    expect(JSON.stringify(lines)).not.toContain('AGFsaWNlAHNlY3JldA==');
  });

  it('logs a hook-refused RCPT as a failed command with the RCPT line', async () => {
    const { logger, lines } = recordingLogger();
    const server = createServer({
      hostname: 'mx.test',
      logger,
      hooks: { rcpt: () => ({ action: 'reject', code: 550, enhanced: '5.7.1', text: 'Relaying denied' }) },
    });
    servers.push(server);
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    const client = await LineClient.open(port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<a@client.test>');
    expect(await client.command('RCPT TO:<b@elsewhere.test>')).toMatch(/^550 /);
    const failed = lines.filter((line) => line.message === 'smtp failed-command');
    expect(failed.map((line) => line.fields)).toEqual([
      expect.objectContaining({
        address: '127.0.0.1',
        command: 'RCPT TO:<b@elsewhere.test>',
        result: '550 5.7.1 Relaying denied',
      }),
    ]);
  });
});
