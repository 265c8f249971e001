import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { openFileQueue } from '@homing/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DsnRequest, processClaim } from '../src/index';
import { startReceiver } from './peers';
import { DSN_SCRIPT, parseWithPython } from './python-email';

// The worker's `reportOptions`: the sender's RFC 3461 requests (ENVID, NOTIFY, ORCPT) shape the
// DSN that the settle queues, and the agent's `localAddress` picks the source address.

let dns: DnsServer;
beforeAll(async () => {
  dns = await startDnsServer({
    zones: {
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
    },
  });
});
afterAll(() => dns.close());

const original = Buffer.from('From: alice@example.org\r\nTo: gone@example.net\r\nSubject: Plans\r\n\r\nSee you.\r\n');

async function attempt(request: DsnRequest | undefined, recipients: string[]) {
  const spool = mkdtempSync(join(tmpdir(), 'homing-delivery-dsn-'));
  const receiver = await startReceiver({ rcpt: () => ({ code: 550, message: '5.1.1 No such user' }) });
  const queue = await openFileQueue({ spool, delayWarningMs: false });
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address] }),
    hostname: 'mta.example.org',
    port: receiver.port,
    addressPreference: 'ipv4',
  });
  try {
    await queue.enqueue({ sender: 'alice@example.org', recipients }, original);
    const [claim] = await queue.claim({ domain: 'example.net' });
    const settled = await processClaim(
      { queue, agent, hostname: 'mta.example.org', reportOptions: () => request },
      claim!,
    );
    const reports = (await queue.list()).filter((message) => message.sender === '');
    const body = reports[0] === undefined ? undefined : await streamText(await queue.openBody(reports[0].id));
    return { settled, reports, body };
  } finally {
    await agent.close();
    await queue.close();
    await receiver.close();
    rmSync(spool, { recursive: true, force: true });
  }
}

async function streamText(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

describe('processClaim with reportOptions', { timeout: 30_000 }, () => {
  it('writes ENVID and ORCPT into the DSN of a failure the sender asked to hear of', async () => {
    const { reports, body } = await attempt(
      {
        envelopeId: 'trip-42',
        recipients: { 'gone@example.net': { notify: ['FAILURE'], originalRecipient: 'Gone@Example.net' } },
      },
      ['gone@example.net'],
    );
    expect(reports).toHaveLength(1);
    const parsed = parseWithPython(Buffer.from(body!), DSN_SCRIPT) as { blocks: Record<string, string>[] };
    expect(parsed.blocks[0]!['Original-Envelope-Id']).toBe('trip-42');
    expect(parsed.blocks[1]).toMatchObject({
      'Original-Recipient': 'rfc822; Gone@Example.net',
      'Final-Recipient': 'rfc822; gone@example.net',
      Status: '5.1.1',
    });
  });

  it('queues no DSN for NOTIFY=NEVER or NOTIFY=DELAY, and reports only the recipients that asked', async () => {
    const never = await attempt({ recipients: { 'gone@example.net': { notify: ['NEVER'] } } }, ['gone@example.net']);
    expect(never.settled.failed.map((r) => r.address)).toEqual(['gone@example.net']);
    expect(never.reports).toHaveLength(0);
    const mixed = await attempt({ recipients: { 'gone@example.net': { notify: ['DELAY'] } } }, [
      'gone@example.net',
      'other@example.net',
    ]);
    expect(mixed.reports).toHaveLength(1);
    const parsed = parseWithPython(Buffer.from(mixed.body!), DSN_SCRIPT) as { blocks: Record<string, string>[] };
    expect(parsed.blocks.slice(1).map((block) => block['Final-Recipient'])).toEqual(['rfc822; other@example.net']);
  });

  it('connects from the localAddress of the family (outbound.ipv4 of the server)', async () => {
    const seen: string[] = [];
    const server = createServer((socket) => {
      seen.push(socket.remoteAddress ?? '');
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const agent = createDeliveryAgent({
      resolver: createResolver({ servers: [dns.address] }),
      hostname: 'mta.example.org',
      port,
      addressPreference: 'ipv4',
      localAddress: { ipv4: '127.0.0.9' },
      timeouts: { connectMs: 2000, greetingMs: 2000 },
    });
    try {
      await agent.deliver({ from: 'alice@example.org', to: ['x@example.net'] }, original);
      expect(seen[0]).toBe('127.0.0.9');
    } finally {
      await agent.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
