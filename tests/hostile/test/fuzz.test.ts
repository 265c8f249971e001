// Fuzzing (issue 16): grammar-aware sessions (see session-grammar.ts) against a real server for a
// time budget: 12 s in CI, HOSTILE_FUZZ_SECONDS with `npm run fuzz` (600 by default). The server
// never crashes, always answers a fresh client afterwards, and the Maildir holds only whole
// messages, no more of them than the 250s the fuzzing clients were given.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BatteryServer, startBatteryServer } from '../src/battery-server';
import { batteryMessage, sendMessage, waitUntil } from '../src/mail-client';
import { fuzzChecksum, generateSession, Random, SKEWED } from '../src/session-grammar';
import { record } from '../src/summary';

const BUDGET_MS = Number(process.env.HOSTILE_FUZZ_SECONDS ?? 12) * 1000;
const SEED = Number(process.env.HOSTILE_FUZZ_SEED ?? Date.now() % 1_000_000);
const PARALLEL = 6;

let server: BatteryServer;

beforeAll(async () => {
  server = await startBatteryServer();
});

afterAll(async () => {
  record({ crashes: server.crashes, peakRss: server.peakRss() });
  await server?.close();
});

/** Plays one session; resolves the replies it got (the server may close at any point). */
async function play(port: number, random: Random, tag: string, bodies: Map<string, string>): Promise<string> {
  const session = generateSession(random, tag);
  for (const [id, checksum] of session.bodies) bodies.set(id, checksum);
  let socket: Socket = connect({ host: '127.0.0.1', port });
  let received = '';
  const onData = (chunk: Buffer) => {
    received += chunk.toString('latin1');
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await Promise.race([new Promise((r) => socket.once('connect', r)), closed]);
  for (const step of session.steps) {
    if (socket.destroyed) break;
    if (step.kind === 'write') {
      // Whole, or cut at random places.
      if (random.chance(0.5)) socket.write(step.data);
      else {
        for (let i = 0; i < step.data.length; ) {
          const n = 1 + random.int(64);
          socket.write(step.data.subarray(i, i + n));
          i += n;
        }
      }
      await quiet(random.int(30));
    } else if (step.kind === 'garbage-tls') {
      await quiet(50);
      socket.write(step.data);
    } else {
      await quiet(50);
      socket.removeListener('data', onData);
      const secure = tlsConnect({ socket, rejectUnauthorized: false });
      secure.on('error', () => {});
      const ok = await Promise.race([
        new Promise<boolean>((r) => secure.once('secureConnect', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
      ]);
      if (!ok) break;
      secure.on('data', onData);
      socket = secure;
    }
  }
  await Promise.race([closed, quiet(400)]);
  socket.destroy();
  return received;
}

it(
  `survives grammar-aware fuzzing for ${BUDGET_MS / 1000} s (seed ${SEED})`,
  async () => {
    process.stdout.write(`fuzz: seed ${SEED} (HOSTILE_FUZZ_SEED=${SEED} replays it), budget ${BUDGET_MS / 1000} s\n`);
    const random = new Random(SEED);
    const bodies = new Map<string, string>();
    const deadline = Date.now() + BUDGET_MS;
    let sessions = 0;
    let accepted = 0;
    const worker = async (w: number) => {
      while (Date.now() < deadline && server.alive()) {
        const received = await play(server.current.mxPort, random, `${w}-${sessions++}`, bodies);
        accepted += (received.match(/^250 2\.0\.0 Ok: queued as /gm) ?? []).length;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, (_, w) => worker(w)));
    // The server's own count of 250s (some went to clients that had hung up before reading them).
    const serverAcks = server.current
      .lines()
      .filter((line) => / smtp message /.test(line) && /result="250 /.test(line)).length;
    process.stdout.write(
      `fuzz: ${sessions} sessions, ${accepted} messages acknowledged to a client that read it, ${serverAcks} by the server\n`,
    );
    record({ fuzzSessions: sessions });
    expect(server.alive()).toBe(true);
    expect(server.crashes).toBe(0);

    // A fresh client is served at once.
    const fresh = await sendMessage(server.current.mxPort, batteryMessage('after-fuzz'));
    expect(fresh.reply).toMatch(/^250/);

    // Only whole messages that some client sent, each once, and no more than the 250s given.
    const fuzzFiles = () =>
      (['INBOX', 'Junk'] as const).flatMap((folder) =>
        server.current
          .maildir('alice@example.org', folder)
          .map((file) => server.current.readMail('alice@example.org', file, folder))
          .filter((text) => /^X-Battery-Id: fuzz-/m.test(text)),
      );
    // Wait for local delivery to catch up with what was acknowledged.
    await waitUntil(
      () => fuzzFiles().length >= serverAcks,
      30_000,
      () => `${fuzzFiles().length} of ${serverAcks} delivered`,
    ).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const stored = fuzzFiles();
    const seen = new Map<string, number>();
    for (const text of stored) {
      const id = /^X-Battery-Id: (\S+)/m.exec(text)![1]!;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      expect(bodies.has(id), `a stored message that no client sent: ${id}`).toBe(true);
      if (bodies.get(id) === SKEWED) continue;
      expect(bodies.get(id), `a stored message that no client sent whole: ${id}`).toBe(fuzzChecksum(text));
      expect(text, `message ${id} is cut short`).toContain(`END-OF-${id}\r\n`);
    }
    // Several recipients of one message reach one mailbox once; a message is in the Maildir once.
    for (const [id, count] of seen) expect(count, `copies of ${id}`).toBe(1);
    // Nothing without a 250, and every 250 delivered.
    expect(stored.length).toBe(serverAcks);
    expect(accepted).toBeLessThanOrEqual(serverAcks);
    record({ acknowledged: serverAcks + 1, delivered: stored.length + 1 });
  },
  120_000 + BUDGET_MS,
);
