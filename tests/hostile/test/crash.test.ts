// Crash (issue 16): under load from several clients, kill -9 the server at random instants and
// restart it on the same state, many times. Every message that got a 250 is in its Maildir
// exactly once with its checksum; nothing acknowledged is lost, nothing is delivered twice, and
// no Maildir file is a partial message.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BatteryServer, startBatteryServer } from '../src/battery-server';
import { batteryMessage, expectedChecksum, maildirCopies, reconcile, sendMessage, waitUntil } from '../src/mail-client';
import { record } from '../src/summary';

const KILLS = Number(process.env.HOSTILE_CRASH_KILLS ?? 6);
const CLIENTS = 4;

let server: BatteryServer;

beforeAll(async () => {
  server = await startBatteryServer();
});

afterAll(async () => {
  record({ crashes: server.crashes, peakRss: server.peakRss() });
  await server?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(`loses and duplicates nothing acknowledged across ${KILLS} kill -9 under load from ${CLIENTS} clients`, async () => {
  const acknowledged = new Map<string, string>();
  // Every message tried (acknowledged or not): a Maildir copy of any of them must be whole.
  const sent = new Map<string, string>();
  let running = true;
  let serial = 0;
  const client = async (n: number) => {
    while (running) {
      const id = `crash-${n}-${serial++}`;
      // Some messages big enough to be in flight for a while (several reads, a temporary file).
      const message = batteryMessage(id, serial % 7 === 0 ? 4000 : 5);
      sent.set(id, expectedChecksum(message));
      const result = await sendMessage(server.current.mxPort, message, { timeoutMs: 10_000 });
      if (result.accepted) acknowledged.set(id, expectedChecksum(message));
      else await sleep(30);
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
  // Acknowledged messages not yet in the Maildir at each kill: local delivery was interrupted.
  let inFlightAtKills = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    await sleep(300 + Math.random() * 1200);
    const delivered = server.current.maildir('alice@example.org').length;
    await server.kill9();
    inFlightAtKills += Math.max(0, acknowledged.size - delivered);
    await sleep(Math.random() * 200);
    await server.restart();
  }
  await sleep(1000);
  running = false;
  await Promise.all(clients);

  await waitUntil(
    () => reconcile(acknowledged, maildirCopies(server.current)).lost.length === 0,
    30_000,
    () => `lost: ${reconcile(acknowledged, maildirCopies(server.current)).lost.join(' ')}`,
  );
  // Let local delivery finish whatever else is queued (unacknowledged messages the queue did keep).
  await sleep(1000);
  const copies = maildirCopies(server.current);
  const result = reconcile(acknowledged, copies);
  record({
    acknowledged: acknowledged.size,
    delivered: result.delivered,
    lost: result.lost.length,
    duplicated: result.duplicated.length,
  });
  process.stdout.write(
    `crash: ${KILLS} kills, ${acknowledged.size} acknowledged of ${sent.size} tried, ` +
      `${inFlightAtKills} acknowledged-but-undelivered at the kill instants, ${copies.size} ids in the Maildir\n`,
  );
  expect(acknowledged.size).toBeGreaterThan(KILLS * 5);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.corrupted).toEqual([]);
  // Every file in the Maildir is a whole message some client sent, once.
  for (const [id, checksums] of copies) {
    expect(sent.has(id), `a Maildir file that no client sent: ${id}`).toBe(true);
    expect(checksums.length, `copies of ${id}`).toBe(1);
    expect(checksums[0], `checksum of ${id}`).toBe(sent.get(id));
  }
  expect(server.crashes).toBe(0);
}, 120_000);
