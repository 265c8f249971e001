import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@homing/test-peers';
import { afterAll, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../outbound/sinks';
import { baseZones, cleanUp, type HomingServer, startHoming } from './harness';
import { python } from './smtp-talk';

// Exactly one report per failed recipient across crashes: the server is killed with SIGKILL while
// the outbound worker is failing recipients and queuing their reports, then restarted on the same
// state, until every message is settled. The failure and its report are one durable step.

const MESSAGES = 40;

function zones() {
  return {
    ...baseZones(),
    'refusing.test': { MX: [{ priority: 10, exchange: 'mx.refusing.test' }] },
    'mx.refusing.test': { A: ['127.0.0.2'] },
  };
}

describe('homing start: reports across a crash', () => {
  let server: HomingServer | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    await cleanUp(server);
    await sink?.stop();
  });

  it('gives each failed recipient exactly one report after SIGKILLs while reports are produced', async () => {
    const port = await freePort();
    sink = await startSink('127.0.0.2', port, ['-f', 'RCPT', '-B', '550 5.1.1 No such user here']);
    server = await startHoming({ zones: zones(), extraConfig: `remote_port: ${port}` });
    // One authenticated session, one message per recipient; each acknowledged one is printed.
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.test")',
      's.starttls(context=ctx); s.login("alice@example.org", "alice-password")',
      `for i in range(${MESSAGES}):`,
      '    to = "r%d@refusing.test" % i',
      '    s.sendmail("alice@example.org", [to], "From: alice@example.org\\r\\nTo: %s\\r\\nSubject: crash %d\\r\\n\\r\\nbody\\r\\n" % (to, i))',
      '    print(to, flush=True)',
      's.quit()',
    ].join('\n');
    // The client keeps sending while the first crash comes: it then loses its connection.
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
      startHoming({ dir, dns, cert, ports, zones: zones(), extraConfig: `remote_port: ${port}` });
    // Kill once failures (and their reports) are coming in, then again after the restart.
    await server.waitForLine(/ outbound failed /, 20_000);
    server.signal('SIGKILL');
    await server.stop();
    const accepted = (await sending).split('\n').filter((line) => line.endsWith('@refusing.test'));
    expect(accepted.length).toBeGreaterThan(0);
    server = await restart(server.dir, server.dns, server.cert);
    await server.waitForLine(/ outbound failed /, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    server.signal('SIGKILL');
    await server.stop();
    server = await restart(server.dir, server.dns, server.cert);
    const files = await server.waitForMail('alice@example.org', accepted.length, undefined, 30_000);
    // Give a duplicate the time to show up, had there been one.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const reported = server
      .maildir('alice@example.org')
      .map((file) => readFileSync(join(server!.state, 'mail', 'example.org', 'alice', 'new', file), 'latin1'))
      .map((text) => /Final-Recipient: rfc822; ?(\S+)/.exec(text)?.[1]);
    expect(files.length).toBeGreaterThanOrEqual(accepted.length);
    // Every acknowledged recipient reported, none twice (a 250 lost in the crash may add one more, once).
    expect(new Set(reported).size).toBe(reported.length);
    for (const recipient of accepted) expect(reported).toContain(recipient);
    console.log(`crash test: ${accepted.length} acknowledged, ${reported.length} reports`);
  }, 120_000);
});
