// The server reads every plain connection into one shared buffer. Property: several clients at
// once, each sending its message (DATA with dot-stuffing, or BDAT chunks) in random pieces that
// interleave with the others' at the server, get exactly their own body to the data hook.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeData } from '../src/core/data-encoder';
import { createServer, type SmtpServer } from '../src/server';
import { LineClient } from './helpers/line-client';

let server: SmtpServer;
let port: number;
// Bodies the data hook read, by the sender's address.
const received = new Map<string, string>();

beforeAll(async () => {
  server = createServer({
    hostname: 'mx.test',
    limits: { maxMessageSize: 0, maxConnectionsPerIp: 100 },
    hooks: {
      data: async (session, message) => {
        const chunks: Buffer[] = [];
        for await (const chunk of message.body) chunks.push(chunk as Buffer);
        received.set(session.envelope.from?.address ?? '', Buffer.concat(chunks).toString('latin1'));
        return { action: 'accept' };
      },
    },
  });
  ({ port } = await server.listen({ host: '127.0.0.1', port: 0 }));
  expect(server.acceptPath).toBe('fast');
});
afterAll(async () => {
  await server.close({ timeoutMs: 1000 });
});

// Lines of printable text, some starting with a dot, some long enough to push a message past
// the 64 KiB read buffer.
const line = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '.', ' ', 'x', 'y', 'z', '-', ':'), maxLength: 80 }),
  fc.constantFrom('.', '..', '.x', '', 'ending.'),
  fc.nat({ max: 900 }).map((n) => 'w'.repeat(n)),
);
const body = fc.array(line, { maxLength: 200 }).map((lines) => lines.map((text) => `${text}\r\n`).join(''));
const piece = fc.integer({ min: 1, max: 3000 });

async function sendInPieces(client: LineClient, bytes: Buffer, sizes: number[]): Promise<void> {
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes.length === 0 ? bytes.length : sizes[i % sizes.length]!;
    client.send(bytes.subarray(offset, offset + size));
    offset += size;
    // Let the other clients' pieces reach the server between ours.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function transaction(id: string, text: string, useBdat: boolean, sizes: number[]): Promise<void> {
  const client = await LineClient.open(port);
  try {
    expect(await client.reply()).toMatch(/^220 /);
    client.send(`EHLO ${id}.test\r\nMAIL FROM:<${id}@a.test>\r\nRCPT TO:<r@b.test>\r\n`);
    expect(await client.reply()).toMatch(/^250-mx.test/);
    expect(await client.reply()).toBe('250 2.1.0 OK\r\n');
    expect(await client.reply()).toBe('250 2.1.5 OK\r\n');
    const payload = Buffer.from(text, 'latin1');
    if (useBdat) {
      await sendInPieces(client, Buffer.concat([Buffer.from(`BDAT ${payload.length} LAST\r\n`), payload]), sizes);
    } else {
      client.send('DATA\r\n');
      expect(await client.reply()).toMatch(/^354 /);
      await sendInPieces(client, Buffer.from(encodeData(payload)), sizes);
    }
    expect(await client.reply(10_000)).toBe('250 2.0.0 OK\r\n');
    expect(await client.command('QUIT')).toBe('221 2.0.0 Bye\r\n');
  } finally {
    client.close();
  }
}

describe('reads of several connections through one shared buffer', () => {
  it('gives each data hook exactly its own body, DATA and BDAT, in any interleaving', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ text: body, bdat: fc.boolean(), sizes: fc.array(piece, { maxLength: 8 }) }), {
          minLength: 2,
          maxLength: 5,
        }),
        async (clients) => {
          run++;
          received.clear();
          const ids = clients.map((_, i) => `c${run}x${i}`);
          await Promise.all(clients.map((c, i) => transaction(ids[i]!, c.text, c.bdat, c.sizes)));
          for (const [i, c] of clients.entries()) expect(received.get(`${ids[i]}@a.test`)).toBe(c.text);
        },
      ),
      { numRuns: 25 },
    );
  }, 60_000);
});
