// Slowloris in the TLS handshake, to the end: handshakes that never finish (a ClientHello
// dripped a byte every 200 ms, on 465 and after STARTTLS on 587) are cut at
// `limits.tls_handshake_timeout` (2 s here, 30 s by default), each with one
// `smtp tls-handshake-timeout` line naming the client, and the places they held under the
// per-address limit come back; a well-behaved client keeps getting its mail accepted meanwhile.
// (test/abuse.test.ts holds handshakes open for a few seconds to check that they count; this
// file checks that they end.) Its own server, since the short limit would end abuse.test.ts's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drip, loopback, type RawConnection, rawConnect } from '../src/attack-tools';
import { type BatteryServer, startBatteryServer } from '../src/battery-server';
import { type GoodClient, startGoodClient } from '../src/good-client';
import { waitUntil } from '../src/mail-client';
import { openSession, type Session } from '../src/smtp-session';
import { record } from '../src/summary';

const LIMIT_MS = 2000;
// A TLS record header that announces a ClientHello, then its body: it never completes at 5 bytes a second.
const HELLO = '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'r'.repeat(32);

let server: BatteryServer;
let good: GoodClient;
beforeAll(async () => {
  server = await startBatteryServer({ extraConfig: `limits:\n  tls_handshake_timeout: ${LIMIT_MS}ms\n` });
  good = startGoodClient(server.current.mxPort, 100);
});
afterAll(async () => {
  await good?.stop();
  record({ crashes: server.crashes, peakRss: server.peakRss() });
  await server?.close();
});

/** Resolves how long after `since` the server closed the socket (or Infinity after `waitMs`). */
function closedAfter(closed: Promise<void>, since: number, waitMs: number): Promise<number> {
  return Promise.race([
    closed.then(() => performance.now() - since),
    new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), waitMs).unref()),
  ]);
}

describe('slowloris in the TLS handshake, against limits.tls_handshake_timeout', () => {
  it('cuts every dripping handshake at the limit, logs each client, and gives the places back', async () => {
    const controller = new AbortController();
    const from = Date.now();
    // 20 on 587 after STARTTLS, from 127.0.16.1 and .2 (10 each); 20 on 465 from .3 and .4.
    const starttls: Session[] = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const s = await openSession(server.current.submissionPort, { localAddress: loopback(0, 16, 1 + (n % 2)) });
        await s.send('EHLO slow.example.test');
        expect(await s.send('STARTTLS')).toMatch(/^220/);
        return s;
      }),
    );
    const starttlsSince = performance.now();
    const implicit: RawConnection[] = Array.from({ length: 20 }, (_, n) =>
      rawConnect(server.current.submissionsPort, loopback(0, 16, 3 + (n % 2))),
    );
    const implicitSince = performance.now();
    const drips = [
      ...starttls.map((s) => drip(s.socket(), HELLO, 200, controller.signal)),
      ...implicit.map((c) => drip(c.socket, HELLO, 200, controller.signal)),
    ];
    const waitMs = LIMIT_MS + 10_000;
    const times = await Promise.all([
      ...starttls.map((s) => closedAfter(s.closed, starttlsSince, waitMs)),
      ...implicit.map((c) => closedAfter(c.closed, implicitSince, waitMs)),
    ]);
    controller.abort();
    await Promise.all(drips);
    for (const s of starttls) s.close();
    for (const c of implicit) c.socket.destroy();
    process.stdout.write(
      `TLS handshake deadline ${LIMIT_MS} ms: 40 dripping handshakes closed after ${Math.min(...times).toFixed(0)}-${Math.max(...times).toFixed(0)} ms\n`,
    );
    // Cut at the limit: never before it (the STARTTLS ones count from their 220, a little earlier
    // than `starttlsSince`), and within two sweeps and the load of the machine after it.
    expect(Math.min(...times)).toBeGreaterThanOrEqual(LIMIT_MS - 300);
    expect(Math.max(...times)).toBeLessThan(LIMIT_MS + 5000);

    // One line per cut, naming the client and where it was.
    await waitUntil(
      () =>
        server.current.lines().filter((l) => / smtp tls-handshake-timeout address=127\.0\.16\./.test(l)).length >= 40,
      5000,
      () => 'fewer than 40 tls-handshake-timeout lines',
    );
    const lines = server.current.lines().filter((l) => / smtp tls-handshake-timeout address=127\.0\.16\./.test(l));
    expect(lines.length).toBe(40);
    expect(lines.filter((l) => / tls=starttls /.test(l)).length).toBe(20);
    expect(lines.filter((l) => / tls=implicit /.test(l)).length).toBe(20);
    const perAddress = new Map<string, number>();
    for (const l of lines) {
      const address = / address=(\S+)/.exec(l)![1]!;
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    }
    expect(Object.fromEntries(perAddress)).toEqual({
      '127.0.16.1': 10,
      '127.0.16.2': 10,
      '127.0.16.3': 10,
      '127.0.16.4': 10,
    });

    // The places are back: 20 sessions from 127.0.16.1 on 587 and from 127.0.16.3 on 465 (the
    // per-address limit) get in and finish their handshakes.
    const again = await Promise.all([
      ...Array.from({ length: 20 }, () => openSession(server.current.submissionPort, { localAddress: '127.0.16.1' })),
      ...Array.from({ length: 20 }, () =>
        openSession(server.current.submissionsPort, { localAddress: '127.0.16.3', implicitTls: true }),
      ),
    ]);
    expect(again.filter((s) => s.greeting.startsWith('220')).length).toBe(40);
    const first = again[0]!;
    await first.send('EHLO fresh.example.test');
    expect(await first.startTls()).toMatch(/AUTH/);
    for (const s of again) s.close();

    // The well-behaved client on the MX got every message accepted throughout.
    const window = good.between(from, Date.now());
    expect(window.length).toBeGreaterThan(0);
    expect(window.filter((r) => !r.accepted).map((r) => r.reply)).toEqual([]);
    expect(server.alive()).toBe(true);
  });
});
