// Two `homing start` processes on different loopback ports sharing one PostgreSQL queue: mail
// accepted by either is delivered once; one SIGKILLed mid-delivery leaves its leased work to the
// other once the lease ran out; PostgreSQL stopped mid-run makes enqueues answer 451 4.3.0 until
// it is back, and nothing acknowledged is lost. PostgreSQL is a private throw-away cluster
// (.ci/postgres.sh), because this test stops it; it runs where HOMING_TEST_POSTGRES says the
// binaries and a server are available (CI), and is skipped with the reason printed elsewhere.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseZones, cleanUp, type HomingServer, startHoming } from '../server/harness';
import { python, swaksTo } from '../server/smtp-talk';

const script = fileURLToPath(new URL('../../../../.ci/postgres.sh', import.meta.url));
const available = Boolean(process.env.HOMING_TEST_POSTGRES);
if (!available) {
  if (process.env.CI === 'true') throw new Error('HOMING_TEST_POSTGRES is not set in CI: .ci/run starts PostgreSQL');
  console.warn('multi-host PostgreSQL test skipped: HOMING_TEST_POSTGRES is not set (see .ci/postgres.sh)');
}
const leaseMs = 3000;
let cluster = '';
let url = '';
let dns: DnsServer | undefined;
const hosts: HomingServer[] = [];

const postgres = (command: 'start' | 'pause' | 'resume' | 'stop') =>
  execFileSync('bash', [script, command, cluster], { encoding: 'utf8' });

beforeAll(async () => {
  if (!available) return;
  cluster = mkdtempSync(join(tmpdir(), 'homing-multi-host-pg-'));
  url = /HOMING_TEST_POSTGRES=(\S+)/.exec(postgres('start'))![1]!;
  dns = await startDnsServer({ zones: baseZones() });
}, 60_000);
afterAll(async () => {
  for (const host of hosts) await cleanUp(host, true);
  await dns?.close();
  if (cluster !== '') postgres('stop');
  rmSync(cluster, { recursive: true, force: true });
});

async function startHost(dir?: string, ports?: HomingServer['mxPort'][]): Promise<HomingServer> {
  const host = await startHoming({
    dns,
    dir,
    ...(ports ? { ports: { mx: ports[0]!, submission: ports[1]!, submissions: ports[2]!, metrics: ports[3]! } } : {}),
    extraConfig: `queue: { url: "${url}", lease: ${leaseMs}ms }`,
  });
  hosts.push(host);
  return host;
}

/** Subject -> copies in the INBOX of alice@example.org, over every host's Maildir. */
function delivered(): Map<string, number> {
  const copies = new Map<string, number>();
  for (const host of new Set(hosts.map((h) => h.state))) {
    const owner = hosts.find((h) => h.state === host)!;
    for (const file of owner.maildir('alice@example.org')) {
      const subject = /^Subject: (.*)$/m.exec(owner.readMail('alice@example.org', file))?.[1]?.trim() ?? '?';
      copies.set(subject, (copies.get(subject) ?? 0) + 1);
    }
  }
  return copies;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function query<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

const send = (host: HomingServer, subject: string) =>
  swaksTo(host.mxPort, 'alice@example.org', ['--header', `Subject: ${subject}`]);

(available ? describe : describe.skip)('two homing hosts sharing one PostgreSQL queue', () => {
  it('deliver what either accepted once, take over a killed host after its lease, and answer 451 while PostgreSQL is down', async () => {
    const a = await startHost();
    let b = await startHost();
    // The lifecycle line names the shared queue (no password), not a spool directory nobody uses.
    const opened = await a.waitForLine(/ queue opened /);
    expect(opened).toContain(`queue=${url.replace(/:[^:@/]*@/, ':***@')}`);
    expect(opened).not.toMatch(/ spool=/);

    // 1. Either host accepts; the messages are delivered once each, by whichever claimed them.
    const first = Array.from({ length: 16 }, (_, i) => `mh-${i}`);
    const sent = await Promise.all(first.map((subject, i) => send(i % 2 === 0 ? a : b, subject)));
    expect(sent.map((r) => r.code)).toEqual(first.map(() => 0));
    await waitFor('the first 16 delivered', () => first.every((s) => delivered().has(s)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(first.map((s) => delivered().get(s))).toEqual(first.map(() => 1));
    expect(await query(`SELECT id FROM homing_queue.messages`)).toEqual([]);

    // 2. Only A runs; it is killed while it holds leases on big deliveries.
    const bPorts = [b.mxPort, b.submissionPort, b.submissionsPort, b.metricsPort];
    expect(await b.stop()).toBe(0);
    const big = ['mh-big-0', 'mh-big-1', 'mh-big-2'];
    const bigSends = big.map((subject) =>
      python(
        `import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
body = 'Subject: ' + sys.argv[2] + '\\r\\n\\r\\n' + ('x' * 998 + '\\r\\n') * 12000
s.sendmail('someone@sender.test', ['alice@example.org'], body)
s.quit()
print('sent')`,
        [String(a.mxPort), subject],
      ),
    );
    // A send cut by the kill rejects before allSettled below looks at it: not an unhandled rejection.
    let acknowledgedBeforeKill = 0;
    for (const send of bigSends) send.then(() => (acknowledgedBeforeKill += 1)).catch(() => {});
    // Kill A once it holds a lease AND one send has had its 250: a lease appears at the COMMIT,
    // before the 250 reaches the client, so a lease alone can mean that nothing was acknowledged.
    await waitFor(
      'a lease held by A after one send was acknowledged',
      async () =>
        acknowledgedBeforeKill > 0 &&
        (await query(`SELECT 1 FROM homing_queue.messages WHERE leases IS NOT NULL`)).length > 0,
    );
    a.signal('SIGKILL');
    await a.stop();
    // What A settled before it died is gone from the queue; what it held stays, leased.
    const left = await query<{ head: string; leased: boolean }>(
      `SELECT convert_from(substring(c.data from 1 for 4000), 'UTF8') AS head,
         m.leases IS NOT NULL AS leased
       FROM homing_queue.messages m JOIN homing_queue.body_chunks c ON c.message_id = m.id AND c.n = 0`,
    );
    expect(left.some((row) => row.leased)).toBe(true);
    const unsettled = new Set(left.map((row) => /^Subject: (.*)$/m.exec(row.head)?.[1]?.trim()));
    const results = await Promise.allSettled(bigSends);
    const acknowledged = big.filter((_, i) => results[i]!.status === 'fulfilled');
    expect(acknowledged.length).toBeGreaterThan(0);
    // Written by A and gone from the queue: settled, so never to be delivered again.
    const settledByA = [...delivered().keys()].filter((subject) => big.includes(subject) && !unsettled.has(subject));
    const killedAt = Date.now();
    b = await startHost(b.dir, bPorts);
    await waitFor(
      'B to deliver what A held',
      async () => (await query('SELECT id FROM homing_queue.messages')).length === 0,
    );
    // Not before the lease A took ran out.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(leaseMs / 2);
    const copies = delivered();
    for (const subject of first) expect(copies.get(subject)).toBe(1);
    // Every acknowledged big message is delivered; one A had settled is never delivered again.
    for (const subject of [...acknowledged, ...unsettled]) expect(copies.get(subject!)).toBeGreaterThanOrEqual(1);
    for (const subject of settledByA) expect(copies.get(subject)).toBe(1);

    // 3. PostgreSQL goes away: B answers 451 4.3.0, then accepts again once it is back.
    postgres('pause');
    const refused = await send(b, 'mh-during-outage');
    expect(refused.output).toMatch(/451[ -]4\.3\.0/);
    expect(b.child.exitCode).toBeNull();
    postgres('resume');
    await waitFor('B to accept again', async () => (await send(b, 'mh-after-outage')).code === 0, 30_000);
    await waitFor('the message after the outage delivered', () => delivered().has('mh-after-outage'));
    expect(delivered().has('mh-during-outage')).toBe(false);
    for (const subject of first) expect(delivered().get(subject)).toBe(1);
    expect(readFileSync(join(b.dir, 'homing.yml'), 'utf8')).toContain('queue:');
  }, 150_000);
});
