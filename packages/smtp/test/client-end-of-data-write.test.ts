import { Socket } from 'node:net';
import { rawServer } from '@homing/test-peers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect } from '../src/client';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A DATA-only ESMTP server (no CHUNKING) that keeps each message as received, terminator included. */
async function dataServer(): Promise<{ port: number; messages: string[] }> {
  const messages: string[] = [];
  const server = await rawServer((socket: Socket) => {
    socket.write('220 data.example ESMTP\r\n');
    let buffer = '';
    let inData = false;
    socket.on('data', (data: Buffer) => {
      buffer += data.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) return;
          messages.push(buffer.slice(0, end + 5));
          buffer = buffer.slice(end + 5);
          inData = false;
          socket.write('250 2.0.0 queued\r\n');
          continue;
        }
        const end = buffer.indexOf('\r\n');
        if (end === -1) return;
        const verb = buffer.slice(0, 4).toUpperCase();
        buffer = buffer.slice(end + 2);
        if (verb === 'EHLO') socket.write('250-data.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n');
        else socket.write('250 2.0.0 ok\r\n');
      }
    });
  });
  servers.push(server);
  return { port: server.port, messages };
}

describe('the end of data', () => {
  it('goes out in the same write as a body that comes from memory', async () => {
    const { port, messages } = await dataServer();
    const client = await connect({ host: '127.0.0.1', port, chunking: false });
    const blocks = ['Subject: one\r\n\r\nfirst block\r\n', '.leading dot\r\n', 'last block\r\n'];
    async function* body() {
      for (const block of blocks) yield Buffer.from(block);
    }
    // What reaches the kernel: one _write per lone chunk, one _writev per corked batch (net.Socket's
    // Writable implementation), each a single syscall on a plain socket.
    const writes: string[] = [];
    const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
    const write = proto._write;
    const writev = proto._writev;
    const text = (data: unknown) => (Buffer.isBuffer(data) ? data.toString('latin1') : String(data));
    const record = (data: string) => {
      if (/block|leading dot|^\.\r\n/.test(data)) writes.push(data);
    };
    vi.spyOn(proto, '_write').mockImplementation(function (this: Socket, ...args: unknown[]) {
      record(text(args[0]));
      return write.apply(this, args);
    });
    vi.spyOn(proto, '_writev').mockImplementation(function (this: Socket, ...args: unknown[]) {
      record((args[0] as { chunk: unknown }[]).map(({ chunk }) => text(chunk)).join(''));
      return writev.apply(this, args);
    });
    const result = await client.send({ from: 'a@example.com', to: ['b@example.net'], message: body() });
    expect(result.accepted.map((r) => r.address)).toEqual(['b@example.net']);
    expect(result.dataReply?.code).toBe(250);
    await client.close();
    expect(messages).toEqual(['Subject: one\r\n\r\nfirst block\r\n..leading dot\r\nlast block\r\n.\r\n']);
    // A body held in memory and its end of data: one write.
    expect(writes).toEqual(['Subject: one\r\n\r\nfirst block\r\n..leading dot\r\nlast block\r\n.\r\n']);
  });
});
