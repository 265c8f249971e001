import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type SmtpSink, skipWithoutPeers, startSmtpSink } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type SmtpClientError } from '../src/client';

// Postfix's smtp-sink is a real SMTP server nobody here wrote (`bash .ci/install-peers.sh` unpacks it).
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

async function sink(flags: string[]): Promise<SmtpSink> {
  const started = await startSmtpSink(flags);
  sinks.push(started);
  return started;
}

/** A dump file smtp-sink (running as nobody) may write to; each transaction is appended to it. */
function dumpFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'homing-smtp-sink-'));
  chmodSync(dir, 0o777);
  return join(dir, 'dump');
}

/** Transactions from an smtp-sink -D dump: the X- headers it adds, then the message as received (LF line ends). */
function readDump(path: string): { mailArgs: string; rcptArgs: string[]; message: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'latin1')
    .split(/^(?=X-Client-Addr: )/m)
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const mailArgs = /^X-Mail-Args: (.*)$/m.exec(part)?.[1] ?? '';
      const rcptArgs = [...part.matchAll(/^X-Rcpt-Args: (.*)$/gm)].map((m) => m[1]!);
      // The message follows smtp-sink's three-line Received header; the dump adds one empty line after it.
      const message = part.replace(/^[\s\S]*?\n\tby smtp-sink[^\n]*\n\t[^\n]*\n/, '').replace(/\n$/, '');
      return { mailArgs, rcptArgs, message };
    });
}

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const counters = (output: string) => {
  const all = [...output.matchAll(/sess=(\d+) quit=(\d+) mesg=(\d+)/g)];
  const last = all.at(-1);
  return last ? { sessions: Number(last[1]), quits: Number(last[2]), messages: Number(last[3]) } : undefined;
};

describe.skipIf(skipWithoutPeers('postfix'))(
  "@homing/smtp/client delivering to Postfix's smtp-sink",
  { timeout: 30_000 },
  () => {
    it('delivers several messages on one pipelined connection, dot-stuffed and intact', async () => {
      const dump = dumpFile();
      const { port, output } = await sink(['-c', '-D', dump]);
      const writes: string[] = [];
      const logger = {
        debug: (o: { command?: string }) => o.command && writes.push(o.command),
        info() {},
        warn() {},
        error() {},
      };
      const client = await connect({ host: '127.0.0.1', port, hostname: 'client.example', logger });
      expect(client.extensions.pipelining).toBe(true);
      expect(client.extensions.domain).toBe('smtp-sink');
      const bodies = [
        'Subject: one\r\n\r\n.leading dot\r\n..two dots\r\nend\r\n',
        'Subject: two\n\nbare LF lines\n.\nstill the body\n',
        'Subject: three\r\n\r\nno final newline',
      ];
      for (const [index, body] of bodies.entries()) {
        const result = await client.send({
          from: 'sender@example.com',
          to: [`rcpt${index}@example.net`, 'second@example.net'],
          message: index === 1 ? Readable.from([Buffer.from(body.slice(0, 20)), Buffer.from(body.slice(20))]) : body,
        });
        expect(result.accepted.map((r) => r.address)).toEqual([`rcpt${index}@example.net`, 'second@example.net']);
        expect(result.rejected).toEqual([]);
        expect(result.dataReply?.code).toBe(250);
        expect(result.accepted[0]?.reply.enhanced).toBe('2.1.5');
      }
      await client.close();
      // RFC 2920: MAIL, both RCPTs and DATA went out as one write per message.
      expect(writes.filter((w) => w.startsWith('MAIL'))).toEqual(
        [0, 1, 2].map(
          (i) =>
            `MAIL FROM:<sender@example.com> | RCPT TO:<rcpt${i}@example.net> | RCPT TO:<second@example.net> | DATA`,
        ),
      );
      await waitFor(() => counters(output())?.sessions === 1 && readDump(dump).length === 3);
      expect(counters(output())).toEqual({ sessions: 1, quits: 1, messages: 3 });
      const got = readDump(dump);
      expect(got.map((t) => t.rcptArgs)).toEqual(
        [0, 1, 2].map((i) => [`<rcpt${i}@example.net>`, '<second@example.net>']),
      );
      expect(got[0]?.mailArgs).toBe('<sender@example.com>');
      expect(got[0]?.message).toBe('Subject: one\n\n.leading dot\n..two dots\nend\n');
      expect(got[1]?.message).toBe('Subject: two\n\nbare LF lines\n.\nstill the body\n');
      expect(got[2]?.message).toBe('Subject: three\n\nno final newline\n');
    });

    it('works command by command when PIPELINING is not offered (-p)', async () => {
      const dump = dumpFile();
      const { port } = await sink(['-p', '-D', dump]);
      const client = await connect({ host: '127.0.0.1', port });
      expect(client.extensions.pipelining).toBe(false);
      for (let i = 0; i < 2; i++) {
        const result = await client.send({
          from: 'a@example.com',
          to: ['b@example.net'],
          message: `Subject: ${i}\r\n\r\nhi\r\n`,
        });
        expect(result.accepted).toHaveLength(1);
      }
      await client.close();
      await waitFor(() => readDump(dump).length === 2);
      expect(readDump(dump).map((t) => t.message)).toEqual(['Subject: 0\n\nhi\n', 'Subject: 1\n\nhi\n']);
    });

    it('falls back to HELO when EHLO is refused (-e)', async () => {
      const { port } = await sink(['-e']);
      const client = await connect({ host: '127.0.0.1', port });
      expect(client.extensions.keywords.size).toBe(0);
      const result = await client.send({ from: 'a@example.com', to: ['b@example.net'], message: 'hi\r\n' });
      expect(result.accepted).toHaveLength(1);
      await client.close();
    });

    it('reports soft-rejected recipients as transient, per recipient (-r RCPT)', async () => {
      const { port } = await sink(['-r', 'RCPT']);
      const client = await connect({ host: '127.0.0.1', port });
      const result = await client.send({
        from: 'a@example.com',
        to: ['b@example.net', 'c@example.net'],
        message: 'hi\r\n',
      });
      expect(result.accepted).toEqual([]);
      expect(result.rejected.map((r) => [r.address, r.reply.code, r.reply.enhanced])).toEqual([
        ['b@example.net', 450, '4.3.0'],
        ['c@example.net', 450, '4.3.0'],
      ]);
      // The connection is still good for the next message.
      expect(client.usable).toBe(true);
      await client.close();
    });

    it('reports a hard-rejected end of data on every recipient (-f .)', async () => {
      const { port } = await sink(['-f', '.']);
      const client = await connect({ host: '127.0.0.1', port });
      const result = await client.send({ from: 'a@example.com', to: ['b@example.net'], message: 'hi\r\n' });
      expect(result.accepted).toEqual([]);
      expect(result.dataReply?.code).toBe(500);
      expect(result.rejected).toEqual([{ address: 'b@example.net', reply: result.dataReply }]);
      await client.close();
    });

    it('fails with SERVICE_UNAVAILABLE when the sink answers 421 and hangs up (-Q MAIL)', async () => {
      const { port } = await sink(['-Q', 'MAIL']);
      const client = await connect({ host: '127.0.0.1', port });
      const error = await client
        .send({ from: 'a@example.com', to: ['b@example.net'], message: 'hi\r\n' })
        .catch((e) => e as SmtpClientError);
      expect((error as SmtpClientError).code).toBe('SERVICE_UNAVAILABLE');
      expect((error as SmtpClientError).transient).toBe(true);
      await client.close();
    });

    it('fails with CONNECTION_CLOSED when the sink disconnects without a reply (-q DATA)', async () => {
      const { port } = await sink(['-q', 'DATA']);
      const client = await connect({ host: '127.0.0.1', port });
      const error = await client
        .send({ from: 'a@example.com', to: ['b@example.net'], message: 'hi\r\n' })
        .catch((e) => e as SmtpClientError);
      expect((error as SmtpClientError).code).toBe('CONNECTION_CLOSED');
      await client.close();
    });

    it('delivers over several connections at once', async () => {
      const { port, output } = await sink(['-c']);
      const clients = await Promise.all([1, 2, 3, 4].map(() => connect({ host: '127.0.0.1', port })));
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 5; i++) {
            const result = await client.send({
              from: 'a@example.com',
              to: [`r${c}-${i}@example.net`],
              message: 'hi\r\n',
            });
            expect(result.accepted).toHaveLength(1);
          }
          await client.close();
        }),
      );
      await waitFor(() => counters(output())?.messages === 20 && counters(output())?.quits === 4);
    });
  },
);
