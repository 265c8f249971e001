import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { createServer } from '@homing/smtp/server';
import { describe, expect, it } from 'vitest';
import { createEventLog } from '../../src/server/observability/event-log';
import { parseEventLine } from '../../src/server/observability/log-line-format';

/** Talks to the server over a real socket: sends `bytes`, resolves everything it answered once it closes. */
function talk(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.once('data', () => socket.write(bytes));
  });
}

describe('the real @homing/smtp server logging through the event log', { timeout: 20_000 }, () => {
  it('writes every line in the documented shape, whatever bytes the client sends', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const log = createEventLog({ format: 'text', stream, debug: true });
    const server = createServer({ hostname: 'mx.example.test', logger: log.libraryLogger('smtp') });
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const hostile = Buffer.concat([
        Buffer.from('EHLO client.example\r\n'),
        Buffer.from('AUTH LOGIN\r\n'),
        Buffer.from('FOO "quoted" \\ back\0nul\rcr\r\n'),
        Buffer.from('MAIL FROM:<j\xc3\xbcrgen@b\xc3\xbccher.example> address=1.2.3.4\r\n', 'latin1'),
        Buffer.from([0xff, 0xfe, 0x0d, 0x0a]),
        Buffer.from('QUIT\r\n'),
      ]);
      const replies = await talk(port, hostile);
      expect(replies).toMatch(/^221 /m);
    } finally {
      await server.close();
    }
    const lines = chunks.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      const check = parseEventLine(line);
      expect(check.ok, `${line}: ${check.ok ? '' : check.reason}`).toBe(true);
      if (check.ok) expect(check.line.subsystem).toBe('smtp');
    }
    const session = lines.map((line) => line.slice(0, 16));
    expect(new Set(session).size).toBe(1);
    expect(lines[0]).toMatch(/^[0-9a-f]{16} smtp connected address=127\.0\.0\.1$/);
    expect(lines.some((line) => / smtp failed-command /.test(line))).toBe(true);
  });
});
