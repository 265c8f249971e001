import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import * as packet from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, isDnsError } from '../src/index';
import { type DnsServer, startDnsServer } from '../src/testing';

const LONG_TXT = `v=DKIM1; k=rsa; p=${'A'.repeat(600)}`;
const HUGE_TXT = 'x'.repeat(1500);

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'example.com': { A: ['127.0.0.1'] },
      'big.example.com': { truncate: true, TXT: ['v=spf1 -all'] },
      'long.example.com': { TXT: [LONG_TXT] },
      'huge.example.com': { TXT: [HUGE_TXT, HUGE_TXT] },
      'slow.example.com': { timeout: true },
    },
  });
});
afterAll(async () => {
  await server.close();
});

const failure = async (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );
const resolver = (extra = {}) => createResolver({ servers: [server.address], timeoutMs: 3000, cache: false, ...extra });

describe('truncation and EDNS0', () => {
  it('retries over TCP when the UDP answer is truncated', async () => {
    server.queries.length = 0;
    expect((await resolver().resolveTxt('big.example.com')).records).toEqual(['v=spf1 -all']);
    expect(server.queries.map((query) => query.transport)).toEqual(['udp', 'tcp']);
  });

  it('splits and joins TXT character-strings longer than 255 octets', async () => {
    const answer = await resolver().resolveTxt('long.example.com');
    expect(answer.records).toEqual([LONG_TXT]);
  });

  it('gets a 3 kB answer over TCP once it outgrows the EDNS0 UDP size', async () => {
    server.queries.length = 0;
    expect((await resolver().resolveTxt('huge.example.com')).records).toEqual([HUGE_TXT, HUGE_TXT]);
    expect(server.queries.map((query) => query.transport)).toEqual(['udp', 'tcp']);
  });

  it('takes a 600-octet answer over UDP with EDNS0, but needs TCP without it (512-octet limit)', async () => {
    server.queries.length = 0;
    await resolver().resolveTxt('long.example.com');
    expect(server.queries.map((query) => query.transport)).toEqual(['udp']);
    server.queries.length = 0;
    await resolver({ ednsUdpSize: 0 }).resolveTxt('long.example.com');
    expect(server.queries.map((query) => query.transport)).toEqual(['udp', 'tcp']);
  });
});

describe('names', () => {
  it('queries names holding any octet, as SPF macros build them', async () => {
    const odd = 'first last@%+!.\u00e9t\u00e9.example.com';
    server.setZones({ 'example.com': { A: ['127.0.0.1'] }, [odd]: { TXT: ['odd'] } });
    try {
      expect((await resolver().resolveTxt(odd)).records).toEqual(['odd']);
      expect(server.queries.at(-1)?.name).toBe(odd);
    } finally {
      server.setZones({ 'example.com': { A: ['127.0.0.1'] }, 'slow.example.com': { timeout: true } });
    }
  });

  it('queries names with a line terminator beside a dot exactly as given', async () => {
    const odd = 'a\n.\rb.\u2028.example.com';
    server.setZones({ 'example.com': { A: ['127.0.0.1'] }, [odd]: { A: ['127.0.0.3'] } });
    try {
      expect((await resolver().resolveA(odd)).records).toEqual(['127.0.0.3']);
      expect(server.queries.at(-1)?.name).toBe(odd);
    } finally {
      server.setZones({ 'example.com': { A: ['127.0.0.1'] }, 'slow.example.com': { timeout: true } });
    }
  });

  it('refuses a label over 63 octets, a name over 255 octets, and an empty label, without sending anything', async () => {
    const before = server.queries.length;
    const cases = [
      `${'a'.repeat(64)}.example.com`,
      `${'\u00e9'.repeat(32)}.example.com`, // 64 octets in UTF-8
      `${Array.from({ length: 5 }, () => 'b'.repeat(63)).join('.')}`,
      'a..example.com',
      '',
      '.',
    ];
    for (const name of cases) {
      const error = await failure(resolver().resolveA(name));
      expect(isDnsError(error, 'BADNAME'), `${name}: ${String(error)}`).toBe(true);
    }
    expect(isDnsError(await failure(resolver().resolveA(42 as unknown as string)), 'BADNAME')).toBe(true);
    expect(isDnsError(await failure(resolver().reverse('not-an-ip')), 'BADNAME')).toBe(true);
    expect(server.queries.length).toBe(before);
  });

  it('accepts a name of exactly 255 octets on the wire and 63-octet labels', async () => {
    // 3 labels of 63 + 1 of 61 octets: 4 length octets + 250 + the root octet = 255.
    const name = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
    const error = await failure(resolver().resolveA(name));
    expect(isDnsError(error, 'REFUSED')).toBe(true); // it reached the server, which holds no such zone
  });
});

describe('AbortSignal', () => {
  it('rejects at once with an aborted signal, sending nothing', async () => {
    const before = server.queries.length;
    const error = await failure(resolver().resolveA('example.com', { signal: AbortSignal.abort() }));
    expect((error as Error).name).toBe('AbortError');
    expect(server.queries.length).toBe(before);
  });

  it('stops waiting when the signal aborts during the lookup', async () => {
    const started = Date.now();
    const error = await failure(
      resolver({ timeoutMs: 20_000 }).resolveA('slow.example.com', { signal: AbortSignal.timeout(100) }),
    );
    expect((error as Error).name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(10_000); // the lookup itself would wait 20 s
  });
});

describe('spoofed answers are ignored (RFC 5452)', () => {
  let fake: Socket;
  let reply: (query: packet.DecodedPacket, remote: RemoteInfo) => Promise<void>;
  const queries: packet.DecodedPacket[] = [];
  const ports: number[] = [];

  beforeAll(async () => {
    fake = createSocket('udp4');
    fake.on('message', (message, remote) => {
      const query = packet.decode(message);
      queries.push(query);
      ports.push(remote.port);
      void reply(query, remote);
    });
    await new Promise<void>((resolve) => fake.bind(0, '127.0.0.1', resolve));
  });
  afterEach(() => {
    queries.length = 0;
    ports.length = 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  const send = (socket: Socket, bytes: Buffer, remote: RemoteInfo) =>
    new Promise<void>((resolve) => socket.send(bytes, remote.port, remote.address, () => resolve()));
  const answer = (query: packet.DecodedPacket, changes: Partial<packet.Packet> = {}, address = '127.0.0.1') =>
    packet.encode({
      type: 'response',
      id: query.id,
      flags: packet.AUTHORITATIVE_ANSWER,
      questions: query.questions,
      answers: [{ type: 'A', name: query.questions?.[0]?.name ?? '', ttl: 60, data: address }],
      ...changes,
    });
  const fakeAddress = () => `127.0.0.1:${fake.address().port}`;

  it('sets RD and AD in its queries, so a validating resolver reports the AD bit (RFC 6840 5.7)', async () => {
    reply = async (query, remote) => send(fake, answer(query, { flags: packet.AUTHENTIC_DATA }), remote);
    const result = await createResolver({ servers: [fakeAddress()], cache: false }).resolveA('example.com');
    expect(queries[0]?.flag_rd).toBe(true);
    expect(queries[0]?.flag_ad).toBe(true);
    expect(queries[0]?.flag_cd).toBe(false);
    expect(result.authenticated).toBe(true);
  });

  it('sends EDNS0 with a 1232-octet UDP size and a random id', async () => {
    reply = async (query, remote) => send(fake, answer(query), remote);
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      await createResolver({ servers: [fakeAddress()], cache: false }).resolveA('example.com');
    }
    for (const query of queries) {
      ids.add(query.id ?? -1);
      const opt = query.additionals?.find((record) => record.type === 'OPT') as { udpPayloadSize?: number };
      expect(opt?.udpPayloadSize).toBe(1232);
    }
    expect(ids.size).toBeGreaterThan(1);
  });

  it('ignores a wrong id, a wrong name, a wrong type, garbage and another port, then takes the real answer', async () => {
    reply = async (query, remote) => {
      const question = query.questions?.[0] as packet.Question;
      await send(fake, answer(query, { id: ((query.id ?? 0) + 1) % 65536 }, '10.0.0.1'), remote);
      await send(fake, answer(query, { questions: [{ ...question, name: 'evil.example.com' }] }, '10.0.0.2'), remote);
      await send(fake, answer(query, { questions: [{ ...question, type: 'MX' }] }, '10.0.0.3'), remote);
      const garbage = Buffer.alloc(20, 0xff);
      garbage.writeUInt16BE(query.id ?? 0, 0);
      await send(fake, garbage, remote);
      const other = createSocket('udp4');
      await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
      await send(other, answer(query, {}, '10.0.0.4'), remote);
      other.close();
      await send(fake, answer(query), remote);
    };
    const result = await createResolver({ servers: [fakeAddress()], cache: false }).resolveA('example.com');
    expect(result.records).toEqual(['127.0.0.1']);
  });

  it('logs each ignored answer at debug level to the logger it is given', async () => {
    reply = async (query, remote) => {
      await send(fake, answer(query, { questions: [{ type: 'A', name: 'evil.example.com' }] }, '10.0.0.2'), remote);
      await send(fake, answer(query), remote);
    };
    const lines: { object: object; message?: string }[] = [];
    const logger = {
      debug: (object: object, message?: string) => lines.push({ object, message }),
      info() {},
      warn() {},
      error() {},
    };
    await createResolver({ servers: [fakeAddress()], cache: false, logger }).resolveA('example.com');
    expect(lines).toEqual([
      {
        object: { name: 'example.com', type: 'A', server: fakeAddress() },
        message: 'dns ignored an answer that does not match the query',
      },
    ]);
  });

  it('times out when only spoofed answers come', async () => {
    reply = async (query, remote) => send(fake, answer(query, { id: ((query.id ?? 0) + 1) % 65536 }), remote);
    const error = await failure(
      createResolver({ servers: [fakeAddress()], cache: false, timeoutMs: 150, tries: 1 }).resolveA('example.com'),
    );
    expect(isDnsError(error, 'TIMEOUT')).toBe(true);
  });

  it('reports FORMERR when the only answer with the right id is malformed', async () => {
    reply = async (query, remote) => {
      const garbage = Buffer.alloc(30, 0xff);
      garbage.writeUInt16BE(query.id ?? 0, 0);
      await send(fake, garbage, remote);
    };
    const error = await failure(
      createResolver({ servers: [fakeAddress()], cache: false, timeoutMs: 150, tries: 1 }).resolveA('example.com'),
    );
    expect(isDnsError(error, 'FORMERR')).toBe(true);
  });

  it('asks again without EDNS0 when the server answers FORMERR to it (RFC 6891 7)', async () => {
    reply = async (query, remote) => {
      const hasOpt = query.additionals?.some((record) => record.type === 'OPT');
      await send(fake, hasOpt ? answer(query, { flags: 1, answers: [] }) : answer(query), remote);
    };
    const result = await createResolver({ servers: [fakeAddress()], cache: false }).resolveA('example.com');
    expect(result.records).toEqual(['127.0.0.1']);
    expect(queries.map((query) => query.additionals?.length ?? 0)).toEqual([1, 0]);
  });

  it('moves to a fresh random source port every 100 queries (RFC 5452 4)', async () => {
    reply = async (query, remote) => send(fake, answer(query), remote);
    const resolver = createResolver({ servers: [fakeAddress()], cache: false });
    for (let i = 0; i < 250; i++) await resolver.resolveA(`n${i}.example.com`);
    expect(new Set(ports).size).toBeGreaterThanOrEqual(3);
  });

  it('keeps many concurrent queries apart by id, each getting its own answer', async () => {
    reply = async (query, remote) => {
      const index = Number(/^n(\d+)\./.exec(query.questions?.[0]?.name ?? '')?.[1]);
      setTimeout(
        () => void send(fake, answer(query, {}, `10.0.${index >> 8}.${index & 255}`), remote),
        (index * 7) % 20,
      );
    };
    const resolver = createResolver({ servers: [fakeAddress()], cache: false });
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => resolver.resolveA(`n${i}.example.com`)));
    answers.forEach((result, i) => {
      expect(result.records).toEqual([`10.0.${i >> 8}.${i & 255}`]);
    });
  });
});

describe('process lifetime', () => {
  it('does not keep the process alive once lookups are done', async () => {
    const { execFile } = await import('node:child_process');
    const source = new URL('../src/index.ts', import.meta.url).href;
    // The child prints when its lookup finished; the parent notes when it exited. An open socket or
    // timer left referenced would keep it alive until the execFile timeout. Start-up time (tsx under
    // load) is not measured, only the time from the answer to the exit.
    const script = `const { createResolver } = await import(${JSON.stringify(source)});
      const r = createResolver({ servers: [${JSON.stringify(server.address)}] });
      const answer = (await r.resolveA('example.com')).records.join();
      console.log(answer + ' ' + Date.now());`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { timeout: 30_000 },
        (error, out) => (error ? reject(error) : resolve(out)),
      ),
    );
    const exited = Date.now();
    const [answer, answeredAt] = stdout.trim().split(' ');
    expect(answer).toBe('127.0.0.1');
    expect(exited - Number(answeredAt)).toBeLessThan(5000);
  }, 40_000);
});
