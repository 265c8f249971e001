import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as packet from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, isDnsError } from '../src/index';
import { type DnsServer, startDnsServer } from '../src/testing';

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'example.com': { A: ['127.0.0.1'] },
      'deep.sub.example.com': { A: ['127.0.0.2'] },
      'alias.example.com': { CNAME: ['gone.example.com'] },
    },
  });
});
afterAll(async () => {
  await server.close();
});

function udpExchange(bytes: Buffer, timeoutMs = 500): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(message);
    });
    socket.send(bytes, server.port, '127.0.0.1');
  });
}

const query = (name: string, id = 7) =>
  packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name }] });

describe('the loopback test server', () => {
  it('listens on an ephemeral loopback port, the same for UDP and TCP', () => {
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers authoritatively, copying id, question and RD', async () => {
    const response = packet.decode((await udpExchange(query('Example.COM', 4242))) as Buffer);
    expect(response.id).toBe(4242);
    expect(response.flag_aa).toBe(true);
    expect(response.flag_rd).toBe(true);
    expect(response.questions).toEqual([{ name: 'Example.COM', type: 'A', class: 'IN' }]);
    expect(response.answers?.map((record) => (record as { data: string }).data)).toEqual(['127.0.0.1']);
  });

  it('answers FORMERR to a query it cannot read, and nothing to a response or a runt', async () => {
    const garbage = Buffer.alloc(14, 0);
    garbage.writeUInt16BE(99, 0);
    garbage.writeUInt16BE(5, 4); // claims 5 questions, holds none
    const formErr = packet.decode((await udpExchange(garbage)) as Buffer) as packet.DecodedPacket & { rcode: string };
    expect(formErr.id).toBe(99);
    expect(formErr.rcode).toBe('FORMERR');
    const response = packet.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'example.com' }] });
    expect(await udpExchange(response, 200)).toBeUndefined();
    expect(await udpExchange(Buffer.from([1, 2, 3]), 200)).toBeUndefined();
  });

  it('answers several queries on one TCP connection, even when they arrive a byte at a time', async () => {
    const framed = Buffer.concat(
      [query('example.com', 1), query('deep.sub.example.com', 2)].map((message) =>
        Buffer.concat([Buffer.from([message.length >> 8, message.length & 255]), message]),
      ),
    );
    const ids = await new Promise<number[]>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let buffered = Buffer.alloc(0);
      const seen: number[] = [];
      socket.on('error', reject);
      socket.on('connect', async () => {
        for (const byte of framed) {
          socket.write(Buffer.from([byte]));
          await new Promise((next) => setImmediate(next));
        }
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const length = buffered.readUInt16BE(0);
          seen.push(packet.decode(buffered.subarray(2, 2 + length)).id ?? -1);
          buffered = buffered.subarray(2 + length);
        }
        if (seen.length === 2) {
          socket.destroy();
          resolve(seen);
        }
      });
    });
    expect(ids).toEqual([1, 2]);
    expect(server.queries.slice(-2).map((entry) => entry.transport)).toEqual(['tcp', 'tcp']);
  });

  it('answers NODATA for an empty non-terminal and NXDOMAIN below a CNAME to a missing name', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false, timeoutMs: 3000 });
    const empty = await resolver.resolveA('sub.example.com').catch((error: unknown) => error);
    expect(isDnsError(empty, 'NODATA')).toBe(true);
    const dangling = await resolver.resolveA('alias.example.com').catch((error: unknown) => error);
    expect(isDnsError(dangling, 'NXDOMAIN')).toBe(true);
  });

  it('serves new data after setZones', async () => {
    const resolver = createResolver({ servers: [server.address], cache: false, timeoutMs: 3000 });
    server.setZones({ 'example.com': { A: ['127.0.0.99'] } });
    try {
      expect((await resolver.resolveA('example.com')).records).toEqual(['127.0.0.99']);
    } finally {
      server.setZones({ 'example.com': { A: ['127.0.0.1'] }, 'deep.sub.example.com': { A: ['127.0.0.2'] } });
    }
  });

  it('listens on ::1 too, and the resolver reaches it as [::1]:port', async () => {
    const v6 = await startDnsServer({ zones: { 'example.com': { AAAA: ['::1'] } }, host: '::1' });
    try {
      expect(v6.address).toBe(`[::1]:${v6.port}`);
      const resolver = createResolver({ servers: [v6.address], timeoutMs: 3000 });
      expect((await resolver.resolveAaaa('example.com')).records).toEqual(['::1']);
    } finally {
      await v6.close();
    }
  });
});
