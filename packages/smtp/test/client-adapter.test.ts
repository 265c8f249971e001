import type { Socket } from 'node:net';
import { rawServer } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type SmtpClientError } from '../src/client';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface Delivered {
  commands: string[];
  messages: Buffer[];
}

/**
 * A small scripted ESMTP server that understands BDAT framing (RFC 3030), so the client's
 * chunking can be checked byte for byte. `refuseChunk` answers 552 to that chunk number.
 */
async function chunkingServer(options: { refuseChunk?: number } = {}): Promise<{ port: number; delivered: Delivered }> {
  const delivered: Delivered = { commands: [], messages: [] };
  const server = await rawServer((socket: Socket) => {
    socket.write('220 chunky.example ESMTP\r\n');
    let buffer = Buffer.alloc(0);
    let chunkLeft = 0;
    let lastChunk = false;
    let body: Buffer[] = [];
    let chunkNumber = 0;
    let refused = false;
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (chunkLeft > 0) {
          const take = Math.min(chunkLeft, buffer.length);
          body.push(buffer.subarray(0, take));
          buffer = buffer.subarray(take);
          chunkLeft -= take;
          if (chunkLeft > 0) return;
          chunkNumber += 1;
          if (refused || chunkNumber === options.refuseChunk) {
            refused = true;
            socket.write('552 5.3.4 chunk refused\r\n');
          } else if (lastChunk) {
            delivered.messages.push(Buffer.concat(body));
            socket.write('250 2.0.0 queued\r\n');
          } else socket.write('250 2.0.0 chunk ok\r\n');
          continue;
        }
        const end = buffer.indexOf('\r\n');
        if (end === -1) return;
        const line = buffer.subarray(0, end).toString('latin1');
        buffer = buffer.subarray(end + 2);
        delivered.commands.push(line);
        const bdat = /^BDAT (\d+)( LAST)?$/.exec(line);
        if (bdat) {
          chunkLeft = Number(bdat[1]);
          lastChunk = bdat[2] !== undefined;
          if (chunkLeft === 0) {
            delivered.messages.push(Buffer.concat(body));
            socket.write('250 2.0.0 queued\r\n');
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-chunky.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n');
        else if (verb === 'MAIL') {
          body = [];
          chunkNumber = 0;
          socket.write('250 2.1.0 ok\r\n');
        } else if (verb === 'RCPT') socket.write('250 2.1.5 ok\r\n');
        else if (verb === 'RSET') {
          refused = false;
          socket.write('250 2.0.0 ok\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n');
        else socket.write('502 5.5.1 no\r\n');
      }
    });
  });
  servers.push(server);
  return { port: server.port, delivered };
}

describe('@homing/smtp/client adapter', { timeout: 15_000 }, () => {
  it('sends with BDAT when CHUNKING is offered, in chunks, without dot-stuffing', async () => {
    const { port, delivered } = await chunkingServer();
    const client = await connect({ host: '127.0.0.1', port });
    const big = Buffer.from(`.line one\n${'x'.repeat(1500 * 1024)}\n.\nend`);
    const result = await client.send({ from: 'a@example.com', to: ['b@example.net'], message: big });
    expect(result.accepted).toHaveLength(1);
    expect(result.dataReply?.lines).toEqual(['queued']);
    await client.close();
    const expected = Buffer.from(big.toString('latin1').replace(/\n/g, '\r\n') + '\r\n', 'latin1');
    expect(delivered.messages[0]?.equals(expected)).toBe(true);
    const bdat = delivered.commands.filter((c) => c.startsWith('BDAT'));
    expect(bdat).toHaveLength(2);
    expect(bdat[0]).toMatch(/^BDAT \d+$/);
    expect(bdat[1]).toMatch(/^BDAT \d+ LAST$/);
    const sizes = bdat.map((c) => Number(c.split(' ')[1]));
    expect(sizes[0]).toBeGreaterThanOrEqual(1024 * 1024);
    expect(sizes[0]! + sizes[1]!).toBe(expected.length);
    expect(delivered.commands).not.toContain('DATA');
  });

  it('uses DATA instead of BDAT when chunking is turned off', async () => {
    const { port, delivered } = await chunkingServer();
    const client = await connect({ host: '127.0.0.1', port, chunking: false });
    // This server does not implement DATA: the refusal comes back as each recipient's result.
    const result = await client.send({ from: 'a@example.com', to: ['b@example.net'], message: 'hi\r\n' });
    expect(result.rejected.map((r) => r.reply.code)).toEqual([502]);
    expect(result.dataReply?.code).toBe(502);
    await client.close();
    expect(delivered.commands).toContain('DATA');
    expect(delivered.commands.some((c) => c.startsWith('BDAT'))).toBe(false);
  });

  it('stops sending chunks after a refused one and resets; the connection stays usable', async () => {
    const { port, delivered } = await chunkingServer({ refuseChunk: 1 });
    const client = await connect({ host: '127.0.0.1', port });
    const result = await client.send({
      from: 'a@example.com',
      to: ['b@example.net'],
      message: Buffer.alloc(3 * 1024 * 1024, 0x61),
    });
    expect(result.accepted).toEqual([]);
    expect(result.rejected[0]?.reply.code).toBe(552);
    expect(delivered.commands).toContain('RSET');
    expect(client.usable).toBe(true);
    await client.close();
  });

  it('queues concurrent sends on one connection and sends each message once', async () => {
    const { port, delivered } = await chunkingServer();
    const client = await connect({ host: '127.0.0.1', port });
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => client.send({ from: 'a@example.com', to: [`r${i}@example.net`], message: `n${i}\r\n` })),
    );
    expect(results.map((r) => r.accepted[0]?.address)).toEqual([
      'r0@example.net',
      'r1@example.net',
      'r2@example.net',
      'r3@example.net',
    ]);
    await client.close();
    expect(delivered.messages.map((m) => m.toString())).toEqual(['n0\r\n', 'n1\r\n', 'n2\r\n', 'n3\r\n']);
    expect(delivered.commands.filter((c) => c.startsWith('MAIL'))).toHaveLength(4);
  });

  it('sends QUIT on close, is idempotent, and refuses to send afterwards', async () => {
    const { port, delivered } = await chunkingServer();
    const client = await connect({ host: '127.0.0.1', port });
    await client.close();
    await client.close();
    expect(delivered.commands.filter((c) => c === 'QUIT')).toHaveLength(1);
    const error = await client
      .send({ from: 'a@example.com', to: ['b@example.net'], message: 'x' })
      .catch((e) => e as SmtpClientError);
    expect((error as SmtpClientError).code).toBe('INVALID_STATE');
  });

  it('aborts a send in progress through the connect signal', async () => {
    const server = await rawServer((socket) => {
      socket.write('220 slow.example\r\n');
      socket.on('data', (d) => {
        if (d.toString().startsWith('EHLO')) socket.write('250 slow.example\r\n');
        // MAIL is never answered.
      });
    });
    servers.push(server);
    const controller = new AbortController();
    const client = await connect({ host: '127.0.0.1', port: server.port, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await client
      .send({ from: 'a@example.com', to: ['b@example.net'], message: 'x' })
      .catch((e) => e as SmtpClientError);
    expect((error as SmtpClientError).code).toBe('ABORTED');
    expect(client.usable).toBe(false);
  });

  it('exposes the greeting and the extensions', async () => {
    const { port } = await chunkingServer();
    const client = await connect({ host: '127.0.0.1', port });
    expect(client.greeting).toEqual({ code: 220, lines: ['chunky.example ESMTP'] });
    expect(client.extensions.chunking).toBe(true);
    expect(client.extensions.eightBitMime).toBe(true);
    expect(client.tls).toBeUndefined();
    await client.close();
  });
});
