import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@homing/test-peers';
import { afterAll, describe, expect, it } from 'vitest';
import { baseZones, cleanUp, type HomingServer, startHoming } from '../server/harness';
import { python } from '../server/smtp-talk';
import { type Sink, startSink } from './sinks';

// Exactly one success report per NOTIFY=SUCCESS recipient across crashes: the server is killed
// with SIGKILL while local delivery ("delivered") and the outbound worker to a next hop without
// DSN ("relayed") are settling and queuing reports, then restarted on the same state until every
// message is settled. The delivery and its report are one durable step (the settle's enqueue).

const MESSAGES = 40;
const SETTLED = / outbound delivered | delivery local .*result=ok/;

/**
 * Waits until `count` lines of this run say a delivery was settled, or `atMostMs` has passed (a
 * loaded machine may settle fewer in time, and after a restart the queue may hold fewer messages
 * than `count`, or none): the kill then comes anyway, and the checks below hold either way.
 */
async function settledLines(server: HomingServer, count: number, atMostMs: number): Promise<void> {
  const deadline = Date.now() + atMostMs;
  while (server.lines().filter((line) => SETTLED.test(line)).length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function zones() {
  return {
    ...baseZones(),
    'nodsn.test': { MX: [{ priority: 10, exchange: 'mx.nodsn.test' }] },
    'mx.nodsn.test': { A: ['127.0.0.4'] },
  };
}

describe('homing start: success reports across a crash', () => {
  let server: HomingServer | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    await cleanUp(server);
    await sink?.stop();
  });

  it('gives each NOTIFY=SUCCESS recipient exactly one report after SIGKILLs while they are produced', async () => {
    const port = await freePort();
    sink = await startSink('127.0.0.4', port, ['-N']);
    const users = [
      { address: 'alice@example.org', password: 'alice-password' },
      { address: 'bob@example.org', password: 'bob-password' },
    ];
    server = await startHoming({ zones: zones(), users, extraConfig: `remote_port: ${port}` });
    // One authenticated session; every other message local, the others relayed; each acknowledged one printed.
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test")',
      's.starttls(context=ctx); s.login("alice@example.org", "alice-password")',
      `for i in range(${MESSAGES}):`,
      '    to = "bob@example.org" if i % 2 == 0 else "r%d@nodsn.test" % i',
      '    s.sendmail("alice@example.org", [to], "From: alice@example.org\\r\\nTo: %s\\r\\nSubject: crash %d\\r\\n\\r\\nbody\\r\\n" % (to, i), [], ["NOTIFY=SUCCESS"])',
      '    print("crash %d" % i, flush=True)',
      's.quit()',
    ].join('\n');
    const sending = python(script, [String(server.submissionPort)]).catch(
      (error: { stdout?: string }) => error.stdout ?? '',
    );
    const ports = {
      mx: server.mxPort,
      submission: server.submissionPort,
      submissions: server.submissionsPort,
      metrics: server.metricsPort,
    };
    const restart = (dir: string, dns: HomingServer['dns'], cert: HomingServer['cert']) =>
      startHoming({ dir, dns, cert, ports, users, zones: zones(), extraConfig: `remote_port: ${port}` });
    // Kill once deliveries (and their reports) are being settled, then again after the restart.
    await settledLines(server, 30, 20_000);
    server.signal('SIGKILL');
    await server.stop();
    const accepted = (await sending).split('\n').filter((line) => line.startsWith('crash '));
    expect(accepted.length).toBeGreaterThan(0);
    server = await restart(server.dir, server.dns, server.cert);
    // What the first kill left may be only a few messages: kill after some of them, or after 3 s.
    await settledLines(server, 2 + Math.floor(Math.random() * 8), 3_000);
    server.signal('SIGKILL');
    await server.stop();
    server = await restart(server.dir, server.dns, server.cert);
    await server.waitForMail('alice@example.org', accepted.length, undefined, 30_000);
    // Give a duplicate the time to show up, had there been one.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const reports = server
      .maildir('alice@example.org')
      .map((file) => readFileSync(join(server!.state, 'mail', 'example.org', 'alice', 'new', file), 'utf8'));
    const subjects = reports.map((text) => /\r\nSubject: (crash \d+)\r\n/.exec(text)?.[1]);
    for (const text of reports) expect(text).toMatch(/\r\nAction: (delivered|relayed)\r\n/);
    // Every acknowledged message reported, none twice (a 250 lost in the crash may add one more, once).
    expect(new Set(subjects).size).toBe(subjects.length);
    for (const subject of accepted) expect(subjects).toContain(subject);
    console.log(`success crash test: ${accepted.length} acknowledged, ${subjects.length} reports`);
  }, 120_000);
});
