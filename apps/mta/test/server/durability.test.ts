import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanUp, type HomingServer, startHoming } from './harness';
import { converse } from './smtp-talk';

/** Sends one message; resolves its Message-ID when the server answered 250, else undefined. */
async function send(port: number, n: number): Promise<string | undefined> {
  try {
    const c = await converse(port);
    await c.send('EHLO mail.sender.test');
    await c.send('MAIL FROM:<someone@sender.test>');
    await c.send('RCPT TO:<alice@example.org>');
    await c.send('RCPT TO:<bob@example.org>');
    await c.send('DATA');
    const id = `<crash-${n}@sender.test>`;
    const reply = await c.send(`Message-ID: ${id}\r\nSubject: crash ${n}\r\n\r\n${'body line\r\n'.repeat(200)}.`);
    c.close();
    return reply.startsWith('250') ? id : undefined;
  } catch {
    return undefined; // the server died mid-session: nothing was acknowledged
  }
}

/** Message-ID -> how many files of one mailbox hold it (INBOX new/ and cur/). */
function countById(state: string, mailbox: string): Map<string, number> {
  const [local, domain] = mailbox.split('@') as [string, string];
  const counts = new Map<string, number>();
  for (const sub of ['new', 'cur']) {
    const dir = join(state, 'mail', domain, local, sub);
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {}
    for (const file of files) {
      const id = /\r\nMessage-ID: (<[^>]+>)/i.exec(readFileSync(join(dir, file), 'latin1'))?.[1];
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

// kill -9 in the middle of a stream of messages, then a restart on the same state: every message
// that got its 250 is delivered to each recipient exactly once, none lost, none twice.
describe('homing start: a message that got 250 survives kill -9', () => {
  const servers: HomingServer[] = [];
  afterAll(async () => {
    for (const server of servers.reverse()) await cleanUp(server, server !== servers[0]);
  });

  it('delivers every acknowledged message exactly once across three SIGKILLs', async () => {
    const users = [
      { address: 'alice@example.org', password: 'a' },
      { address: 'bob@example.org', password: 'b' },
    ];
    let server = await startHoming({ users });
    servers.push(server);
    const acknowledged = new Set<string>();
    let n = 0;
    for (let round = 0; round < 3; round++) {
      const inFlight: Promise<string | undefined>[] = [];
      const port = server.mxPort;
      // Twenty clients at once, for a while; the kill lands at a random instant among them.
      const stopAt = Date.now() + 300 + Math.random() * 700;
      const clients = Array.from({ length: 20 }, async () => {
        while (Date.now() < stopAt + 500) {
          const sent = send(port, n++);
          inFlight.push(sent);
          const id = await sent;
          if (id === undefined) return;
        }
      });
      await new Promise((r) => setTimeout(r, stopAt - Date.now()));
      server.signal('SIGKILL');
      await Promise.all(clients);
      for (const id of await Promise.all(inFlight)) if (id) acknowledged.add(id);
      // The same state, config and ports again.
      const ports = {
        mx: server.mxPort,
        submission: server.submissionPort,
        submissions: server.submissionsPort,
        metrics: server.metricsPort,
      };
      server = await startHoming({ dir: server.dir, dns: server.dns, cert: server.cert, ports });
      servers.push(server);
    }
    expect(acknowledged.size).toBeGreaterThan(20);
    // Wait until the queue has drained into the Maildirs.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const alice = countById(server.state, 'alice@example.org');
      const bob = countById(server.state, 'bob@example.org');
      const missing = [...acknowledged].filter((id) => !alice.has(id) || !bob.has(id));
      if (missing.length === 0 || Date.now() > deadline) {
        expect(missing).toEqual([]);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const mailbox of ['alice@example.org', 'bob@example.org']) {
      const counts = countById(server.state, mailbox);
      const twice = [...counts].filter(([, count]) => count > 1);
      expect(twice, `${mailbox} got a message twice`).toEqual([]);
      // Each file is whole: its checksum matches another recipient's copy of the same message body.
    }
    const bodyHash = (mailbox: string) => {
      const [local, domain] = mailbox.split('@') as [string, string];
      const dir = join(server.state, 'mail', domain, local, 'new');
      const hashes = new Map<string, string>();
      for (const file of readdirSync(dir)) {
        const text = readFileSync(join(dir, file), 'latin1');
        const id = /\r\nMessage-ID: (<[^>]+>)/i.exec(text)?.[1] ?? file;
        hashes.set(
          id,
          createHash('sha256')
            .update(text.slice(text.indexOf('\r\n\r\n')))
            .digest('hex'),
        );
      }
      return hashes;
    };
    const a = bodyHash('alice@example.org');
    const b = bodyHash('bob@example.org');
    for (const id of acknowledged) expect(a.get(id)).toBe(b.get(id));
  }, 120_000);
});
