import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { type SmtpSink, skipWithoutPeers, startSmtpSink } from '@homing/test-peers';
import { describe, expect, it } from 'vitest';
import { createBounce, createDeliveryAgent, type DeliveryAgent } from '../src/index';
import { useLoopbackMx } from './loopback-mx';
import { DSN_SCRIPT, parseWithPython } from './python-email';

// Postfix's smtp-sink is a real SMTP server nobody here wrote (`bash .ci/install-peers.sh` unpacks it).
const loopback = useLoopbackMx();
const { agents, closers } = loopback;

async function sink(flags: string[]): Promise<SmtpSink> {
  const started = await startSmtpSink(flags);
  closers.push(() => started.stop());
  return started;
}

function agent(port: number): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [loopback.dns.address] }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
    timeouts: {
      connectMs: 2000,
      greetingMs: 5000,
      commandMs: 5000,
      mailMs: 5000,
      rcptMs: 5000,
      dataStartMs: 5000,
      dataEndMs: 5000,
    },
  });
  agents.push(created);
  return created;
}

/** A dump file smtp-sink (running as nobody) may append each transaction to. */
function dumpFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'homing-delivery-sink-'));
  chmodSync(dir, 0o777);
  return join(dir, 'dump');
}

const message = 'From: a@example.org\r\nSubject: to postfix\r\n\r\n.a line with a leading dot\r\nbye\r\n';

describe.skipIf(skipWithoutPeers('postfix'))(
  "delivery to Postfix's smtp-sink over loopback DNS",
  { timeout: 30_000 },
  () => {
    it('delivers several messages over one session, intact and dot-stuffed correctly', async () => {
      const dump = dumpFile();
      const peer = await sink(['-D', dump]);
      const delivering = agent(peer.port);
      for (let index = 0; index < 3; index += 1) {
        const result = await delivering.deliver({ from: 'a@example.org', to: [`r${index}@example.net`] }, message);
        expect(result.recipients[0]).toMatchObject({ status: 'delivered', mx: 'mx.example.net' });
        expect(result.recipients[0]!.remoteReply?.code).toBe(250);
      }
      await delivering.close();
      const deadline = Date.now() + 3000;
      while (
        Date.now() < deadline &&
        (!existsSync(dump) || readFileSync(dump, 'latin1').split('X-Client-Addr').length < 4)
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const text = readFileSync(dump, 'latin1');
      expect(text.split('X-Client-Addr').length - 1).toBe(3);
      expect(text).toContain('\n.a line with a leading dot\n');
      expect(text).toMatch(/X-Rcpt-Args: <r2@example.net>/);
    });

    it('defers a recipient the sink refuses with 4xx', async () => {
      const peer = await sink(['-r', 'RCPT']);
      const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
      expect(result.recipients[0]!.status).toBe('deferred');
      expect(Math.floor(result.recipients[0]!.remoteReply!.code / 100)).toBe(4);
    });

    it('fails a recipient refused with 5xx, and its DSN reads as multipart/report in Python', async () => {
      const peer = await sink(['-f', 'RCPT', '-B', '550 5.1.1 No such user here']);
      const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
      const outcome = result.recipients[0]!;
      expect(outcome).toMatchObject({ status: 'failed', enhanced: '5.1.1' });
      const bounce = createBounce({
        reportingMta: 'mta.example.org',
        sender: 'a@example.org',
        originalMessage: message,
        recipients: [
          {
            address: outcome.recipient,
            action: 'failed',
            status: outcome.enhanced,
            ...(outcome.mx === undefined ? {} : { remoteMta: outcome.mx }),
            ...(outcome.remoteReply === undefined ? {} : { reply: outcome.remoteReply }),
          },
        ],
      })!;
      const parsed = parseWithPython(bounce.message, DSN_SCRIPT) as {
        type: string;
        reportType: string;
        blocks: Record<string, string>[];
      };
      expect(parsed.type).toBe('multipart/report');
      expect(parsed.reportType).toBe('delivery-status');
      expect(parsed.blocks[1]).toMatchObject({
        'Final-Recipient': 'rfc822; b@example.net',
        Action: 'failed',
        Status: '5.1.1',
        'Remote-MTA': 'dns; mx.example.net',
        'Diagnostic-Code': 'smtp; 550 5.1.1 No such user here',
      });
    });

    it('defers every recipient when the sink disconnects at DATA', async () => {
      const peer = await sink(['-q', 'DATA']);
      const result = await agent(peer.port).deliver(
        { from: 'a@example.org', to: ['b@example.net', 'c@example.net'] },
        message,
      );
      expect(result.recipients.map((r) => r.status)).toEqual(['deferred', 'deferred']);
    });
  },
);
