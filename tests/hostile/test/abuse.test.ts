// Resource abuse (issue 16): floods of connections, slow clients, endless and huge bodies, RCPT
// and pipelining floods, AUTH brute force. Throughout, a well-behaved client in its own process
// keeps sending; its messages must all be accepted (and delivered once), its median latency stays
// within 3x of the idle figure (or idle + 50 ms, the noise floor measured here, see README), and the server's RSS
// stays bounded. The test process raises no limit:
// `ulimit -n` must allow ~2,100 open sockets here (CI's runner has 20,000; 1,024 is not enough).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drip, loopback, type RawConnection, rawConnect, stream, waitFor } from '../src/attack-tools';
import { type BatteryServer, startBatteryServer } from '../src/battery-server';
import { type GoodClient, startGoodClient } from '../src/good-client';
import { maildirCopies, waitUntil } from '../src/mail-client';
import { openSession, type Session, tryOpen } from '../src/smtp-session';
import { median } from '../src/stats';
import { record } from '../src/summary';

let server: BatteryServer;
let good: GoodClient;
let idleMedian = 0;
const abuseLatencies: number[] = [];
// RSS is sampled all along; the bound is on the peak.
let peakRss = 0;
let rssTimer: NodeJS.Timeout | undefined;
const RSS_BOUND = 400 * 1024 * 1024;
// On a 2-core machine shared with other work, the idle median itself moved from 7.8 to 28.2 ms
// between runs of the same code with no abuse at all (README); 3x of a 8 ms idle figure would be
// inside that noise. 50 ms is about twice the spread measured; the table prints both bounds.
const LATENCY_NOISE_MS = 50;
const caseMedians: number[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // 2,000 connections must fit under the total limit for the good client to get in at all.
  server = await startBatteryServer({ extraConfig: 'limits:\n  connections: 2500\n' });
  rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, server.rss());
  }, 100);
  good = startGoodClient(server.current.mxPort, 100);
});

// Whatever a case opened is closed after it, also when it failed, so one case never starves the next.
const opened: RawConnection[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.socket.destroy();
});

afterAll(async () => {
  clearInterval(rssTimer);
  await good?.stop();
  record({ crashes: server.crashes, peakRss: server.peakRss() });
  await server?.close();
});

/**
 * Runs an attack for at least `minMs` while the good client sends; then checks the good client's
 * sessions in that window: all accepted, median latency within 3x of idle (or idle + 50 ms, the noise
 * floor of a loaded 2-core machine).
 */
async function underAbuse<T>(name: string, attack: () => Promise<T>, minMs = 2000): Promise<T> {
  const from = Date.now();
  const [result] = await Promise.all([attack(), sleep(minMs)]);
  // One more good session after the attack, so the window is never empty.
  const before = good.results().length;
  await waitUntil(
    () => good.results().length > before,
    30_000,
    () => 'the good client got no answer',
  );
  const window = good.between(from, Date.now());
  const latencies = window.map((r) => r.ms);
  abuseLatencies.push(...latencies);
  caseMedians.push(median(latencies));
  const refused = window.filter((r) => !r.accepted);
  process.stdout.write(
    `${name}: good client ${window.length} sessions, median ${median(latencies).toFixed(1)} ms, worst ${Math.max(...latencies).toFixed(1)} ms (idle ${idleMedian.toFixed(1)} ms); server RSS peak ${(peakRss / 2 ** 20).toFixed(0)} MiB\n`,
  );
  expect(refused.map((r) => r.reply)).toEqual([]);
  expect(median(latencies)).toBeLessThanOrEqual(Math.max(3 * idleMedian, idleMedian + LATENCY_NOISE_MS));
  expect(peakRss).toBeLessThan(RSS_BOUND);
  expect(server.alive()).toBe(true);
  return result;
}

/**
 * Opens `perAddress` raw connections from each of `addresses`, 200 at a time (a burst of 2,000
 * SYNs overflows the kernel's listen queue of 511, and the dropped ones wait seconds for a
 * retransmitted SYN-ACK); resolves them with their greetings.
 */
async function flood(port: number, addresses: string[], perAddress: number) {
  const connections: RawConnection[] = [];
  const greetings: string[] = [];
  const sources = addresses.flatMap((address) => Array.from({ length: perAddress }, () => address));
  for (let i = 0; i < sources.length; i += 200) {
    const batch = sources.slice(i, i + 200).map((address) => rawConnect(port, address));
    connections.push(...batch);
    opened.push(...batch);
    greetings.push(...(await Promise.all(batch.map((c) => c.greeting))));
  }
  return { connections, greetings };
}

const close = (connections: RawConnection[]) => {
  for (const c of connections) c.socket.destroy();
};

describe('resource abuse, with a well-behaved client measured throughout', () => {
  it('measures the idle figure of the well-behaved client', async () => {
    // The first sessions warm the server up (JIT, caches); the idle figure is from the 30 after.
    await waitUntil(
      () => good.results().length >= 40,
      30_000,
      () => 'the good client is not getting through',
    );
    const idle = good.results().slice(10, 40);
    expect(idle.every((r) => r.accepted)).toBe(true);
    idleMedian = median(idle.map((r) => r.ms));
    record({ idleLatencies: idle.map((r) => r.ms) });
    expect(idleMedian).toBeGreaterThan(0);
  });

  it('holds 2,000 concurrent connections from 100 addresses, greeting every one', async () => {
    const addresses = Array.from({ length: 100 }, (_, n) => loopback(0, 10, n + 1));
    const { connections, greetings } = await underAbuse('2,000 connections', async () => {
      const opened = await flood(server.current.mxPort, addresses, 20);
      await sleep(2000);
      return opened;
    });
    close(connections);
    expect(greetings.filter((g) => g.startsWith('220')).length).toBe(2000);
  });

  it('refuses the 21st connection from one address with 421 4.7.0, and no more', async () => {
    const { connections, greetings } = await underAbuse('per-IP limit', () =>
      flood(server.current.mxPort, [loopback(0, 11, 1)], 25),
    );
    close(connections);
    expect(greetings.filter((g) => g.startsWith('220')).length).toBe(20);
    expect(greetings.filter((g) => g.startsWith('421 4.7.0')).length).toBe(5);
  });

  it('bounds slowloris in commands (a byte a second) to 20 connections per address', async () => {
    const controller = new AbortController();
    const addresses = Array.from({ length: 5 }, (_, n) => loopback(0, 12, n + 1));
    const { connections, greetings } = await flood(server.current.mxPort, addresses, 20);
    expect(greetings.every((g) => g.startsWith('220'))).toBe(true);
    const drips = connections.map((c) => drip(c.socket, 'EHLO slow.example.test\r\n', 1000, controller.signal));
    const extra = await underAbuse(
      'slowloris in commands',
      async () => {
        await sleep(2000);
        return flood(server.current.mxPort, addresses.slice(0, 1), 1);
      },
      3500,
    );
    controller.abort();
    await Promise.all(drips);
    close([...connections, ...extra.connections]);
    expect(extra.greetings[0]).toMatch(/^421 4\.7\.0/);
  });

  it('bounds slowloris in DATA, and stores nothing of the unfinished bodies', async () => {
    const controller = new AbortController();
    const sessions = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const s = await openSession(server.current.mxPort, { localAddress: loopback(0, 13, 1 + (n % 4)) });
        await s.send('EHLO slow.example.test');
        await s.send('MAIL FROM:<slow@sender.test>');
        await s.send('RCPT TO:<alice@example.org>');
        expect(await s.send('DATA')).toMatch(/^354/);
        s.write(`X-Battery-Id: slow-data-${n}\r\n\r\n`);
        return s;
      }),
    );
    const drips = sessions.map((s) => drip(s.socket(), 'slow body line\r\n', 1000, controller.signal));
    await underAbuse('slowloris in DATA', () => sleep(3500), 3500);
    controller.abort();
    await Promise.all(drips);
    for (const s of sessions) s.close();
    // A server that took the FIN for the end of the body would queue it (the log's 250) within a
    // second and deliver it soon after; with the body cut short, neither may happen.
    await sleep(1500);
    expect(
      server.current.lines().filter((l) => / smtp message /.test(l) && /slow@sender/.test(l) && /result="250/.test(l)),
    ).toEqual([]);
    expect([...maildirCopies(server.current).keys()].filter((id) => id.startsWith('slow-data'))).toEqual([]);
  });

  it('bounds slowloris in the TLS handshake (STARTTLS on 587, implicit TLS on 465)', async () => {
    const controller = new AbortController();
    // A TLS record header that announces a ClientHello, then its body one byte a second.
    const hello = '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'r'.repeat(32);
    const starttls = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const s = await openSession(server.current.submissionPort, { localAddress: loopback(0, 14, 1 + (n % 2)) });
        await s.send('EHLO slow.example.test');
        expect(await s.send('STARTTLS')).toMatch(/^220/);
        return s;
      }),
    );
    const implicit = Array.from({ length: 20 }, (_, n) =>
      rawConnect(server.current.submissionsPort, loopback(0, 14, 3 + (n % 2))),
    );
    const drips = [
      ...starttls.map((s) => drip(s.socket(), hello, 1000, controller.signal)),
      ...implicit.map((c) => drip(c.socket, hello, 1000, controller.signal)),
    ];
    // The per-address limit counts connections in their STARTTLS handshake: a 21st is refused.
    const extra = await underAbuse(
      'slowloris in TLS handshakes',
      async () => {
        await sleep(2000);
        return flood(server.current.submissionPort, [loopback(0, 14, 1)], 11);
      },
      3500,
    );
    close(extra.connections);
    expect(extra.greetings.filter((g) => g.startsWith('421 4.7.0')).length).toBe(1);
    // On 465 too the 10 connections in their handshake count: 10 more sessions from 127.0.14.3 get
    // in, the 21st is dropped before its handshake (no clear-text 421 on an implicit TLS port).
    const more = await Promise.all(
      Array.from({ length: 11 }, () =>
        tryOpen(server.current.submissionsPort, {
          implicitTls: true,
          localAddress: loopback(0, 14, 3),
          timeoutMs: 5000,
        }),
      ),
    );
    const sessionsIn = more.filter((m): m is Session => typeof m !== 'string');
    for (const m of sessionsIn) m.close();
    expect(sessionsIn.length).toBe(10);
    controller.abort();
    await Promise.all(drips);
    for (const s of starttls) s.close();
    close(implicit);
    // Submission still serves: a fresh client gets through STARTTLS.
    const fresh = await openSession(server.current.submissionPort);
    await fresh.send('EHLO fresh.example.test');
    expect(await fresh.startTls()).toMatch(/AUTH/);
    fresh.close();
  });

  it('refuses endless headers at the size limit (552), storing nothing', async () => {
    const c = rawConnect(server.current.mxPort, loopback(0, 15, 1));
    expect(await c.greeting).toMatch(/^220/);
    c.socket.write(
      'EHLO endless.example.test\r\nMAIL FROM:<endless@sender.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n',
    );
    expect(await waitFor(c, /^354/m, 10_000)).toBe('matched');
    const header = `X-Endless: ${'h'.repeat(900)}\r\n`;
    await underAbuse('endless headers', async () => {
      await stream(c.socket, 40 * 2 ** 20, () => header, '\r\n.\r\n');
      return waitFor(c, /^5\d\d .*\r\n/m, 30_000);
    });
    expect(c.received()).toMatch(/^552 5\.3\.4/m);
    c.socket.destroy();
    expect(
      server.current
        .lines()
        .filter((line) => / smtp message /.test(line) && /endless@sender/.test(line) && /result="250/.test(line)),
    ).toEqual([]);
  });

  it('refuses a 1 GiB DATA against the 25 MiB limit: refused, connection ends, nothing stored', async () => {
    const c = rawConnect(server.current.mxPort, loopback(0, 16, 1));
    expect(await c.greeting).toMatch(/^220/);
    c.socket.write('EHLO huge.example.test\r\nMAIL FROM:<huge@sender.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n');
    expect(await waitFor(c, /^354/m, 10_000)).toBe('matched');
    const line = `${'x'.repeat(998)}\r\n`;
    const started = Date.now();
    const written = await underAbuse('1 GiB DATA', async () => {
      // The client stops at the server's 552, as a real one does: the socket is not destroyed
      // until its FIN is read, and a fast client can write the whole GiB before that (seen).
      const octets = stream(
        c.socket,
        2 ** 30,
        () => line,
        '\r\n.\r\nQUIT\r\n',
        () => /^552 /m.test(c.received()),
      );
      await Promise.race([c.closed, octets.then(() => waitFor(c, /^221 /m, 60_000))]);
      return octets;
    });
    process.stdout.write(`1 GiB DATA: ${(written / 2 ** 20).toFixed(0)} MiB written in ${Date.now() - started} ms\n`);
    // Refused at twice the limit, and the server ended the connection: the client never got to QUIT.
    expect(c.received()).toMatch(/^552 5\.3\.4 .*closing connection/m);
    await c.closed;
    expect(c.received()).not.toMatch(/^221 /m);
    // How much the client got into its socket is not asserted: after its 552 the server keeps
    // reading (and discarding) for up to 5 s before it drops the connection, so that the 552 is not
    // lost to a reset (a lingering close), and on loopback a client can push the rest of the GiB in
    // that time. What matters is asserted: refused at twice the limit, connection ended, nothing stored.
    expect(
      server.current.lines().filter((l) => / smtp message /.test(l) && /huge@sender/.test(l) && /result="250/.test(l)),
    ).toEqual([]);
  }, 120_000);

  it('takes 100 of 5,000 pipelined RCPT and delivers the message once', async () => {
    // From 127.0.0.1, which has its PTR: mail from an address without one goes to Junk.
    const s = await openSession(server.current.mxPort);
    await s.send('EHLO many.example.test');
    await s.send('MAIL FROM:<many@sender.test>');
    const replies = await underAbuse('5,000 RCPT', async () => {
      s.write(Array.from({ length: 5000 }, (_, n) => `RCPT TO:<alice+${n}@example.org>\r\n`).join(''));
      const out: string[] = [];
      for (let n = 0; n < 5000; n++) out.push(await s.next(30_000));
      return out;
    });
    expect(replies.filter((r) => r.startsWith('250')).length).toBe(100);
    expect(replies.slice(100).every((r) => /^452 4\.5\.3/.test(r))).toBe(true);
    expect(await s.send('DATA')).toMatch(/^354/);
    expect(await s.sendRaw('X-Battery-Id: many-rcpt\r\n\r\nto a hundred aliases of one mailbox\r\n.\r\n')).toMatch(
      /^250/,
    );
    s.close();
    record({ acknowledged: 1 });
    await waitUntil(
      () => maildirCopies(server.current).has('many-rcpt'),
      15_000,
      () => 'the 100-recipient message was not delivered',
    );
    await sleep(300);
    expect(maildirCopies(server.current).get('many-rcpt')?.length).toBe(1);
    record({ delivered: 1 });
  });

  it('answers a flood of 100,000 pipelined commands in one write, in order, without growing', async () => {
    const s = await openSession(server.current.mxPort, { localAddress: loopback(0, 18, 1) });
    await s.send('EHLO flood.example.test');
    // Three commands with three different replies, so a reply dropped, doubled or out of place shows.
    const cycle: [string, RegExp][] = [
      ['NOOP', /^250 /],
      ['HELP', /^214 /],
      ['VRFY flood', /^252 /],
    ];
    const count = await underAbuse('100,000 pipelined commands', async () => {
      s.write(Array.from({ length: 100_000 }, (_, n) => `${cycle[n % 3]![0]}\r\n`).join(''));
      let n = 0;
      try {
        for (; n < 100_000; n++) {
          const r = await s.next(30_000);
          if (!cycle[n % 3]![1].test(r)) break;
        }
      } catch {
        // The server may end a flood; it must not have died of it (checked by underAbuse).
      }
      return n;
    });
    s.close();
    process.stdout.write(`pipelining flood: ${count} of 100,000 commands answered in order\n`);
    expect(count).toBe(100_000);
  }, 120_000);

  it('throttles AUTH brute force per address (454 4.7.0) without locking the user out elsewhere', async () => {
    const attacker = loopback(0, 19, 1);
    const wrong = `AUTH PLAIN ${Buffer.from('\0alice@example.org\0guess').toString('base64')}`;
    const right = `AUTH PLAIN ${Buffer.from('\0alice@example.org\0alice-password').toString('base64')}`;
    const replies = await underAbuse('AUTH brute force', async () => {
      // A first wave of 20 guesses at once, then guesses one after another until refused.
      const wave = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const s = await openSession(server.current.submissionPort, { localAddress: attacker });
          await s.send('EHLO guess.example.test');
          await s.startTls();
          const r = await s.send(wrong);
          s.close();
          return r;
        }),
      );
      const s = await openSession(server.current.submissionPort, { localAddress: attacker });
      await s.send('EHLO guess.example.test');
      await s.startTls();
      const after: string[] = [];
      for (let n = 0; n < 5; n++) after.push(await s.send(wrong));
      // Now even the right password is refused from this address...
      after.push(await s.send(right));
      s.close();
      return { wave, after };
    });
    expect(replies.wave.every((r) => /^(535|454)/.test(r))).toBe(true);
    expect(replies.after.every((r) => /^454 4\.7\.0/.test(r))).toBe(true);
    // ...and from another address the user still gets in.
    const s = await openSession(server.current.submissionPort, { localAddress: loopback(0, 19, 2) });
    await s.send('EHLO alice.example.test');
    await s.startTls();
    expect(await s.send(right)).toMatch(/^235/);
    s.close();
  }, 120_000);

  it('delivered every message of the well-behaved client exactly once', async () => {
    await good.stop();
    const acknowledged = good.results().filter((r) => r.accepted);
    record({
      acknowledged: acknowledged.length,
      abuseLatencies,
      worstCaseMedian: Math.max(...caseMedians),
      latencyNoiseMs: LATENCY_NOISE_MS,
    });
    await waitUntil(
      () => acknowledged.every((r) => maildirCopies(server.current).has(r.id)),
      30_000,
      () => 'some acknowledged messages of the good client are not delivered',
    );
    await sleep(300);
    const copies = maildirCopies(server.current);
    const lost = acknowledged.filter((r) => !copies.has(r.id));
    const duplicated = acknowledged.filter((r) => (copies.get(r.id)?.length ?? 0) > 1);
    const corrupted = acknowledged.filter((r) => copies.get(r.id)?.some((c) => c !== r.checksum));
    record({ delivered: acknowledged.length - lost.length, lost: lost.length, duplicated: duplicated.length });
    expect(lost).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(corrupted).toEqual([]);
  });
});
