import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { type FileQueue, openFileQueue, type Queue, QueueError } from '@homing/queue';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent, runDeliveryWorker } from '../src/index';
import { type Receiver, startReceiver } from './peers';
import { DSN_SCRIPT, parseWithPython } from './python-email';

let dns: DnsServer;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  dns = await startDnsServer({
    zones: {
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'example.org': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
      'nomail.example': { MX: [{ priority: 0, exchange: '.' }] },
    },
  });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await dns.close();
});

// The worker's clock, for the DSNs' dates (its `now` option).
const DSN_CLOCK = Date.UTC(2026, 5, 1, 12, 0, 0);

async function setUp(
  receiverOptions: Parameters<typeof startReceiver>[0],
  lifetimeMs = 60_000,
  // What the worker sees of the queue: the queue itself, or a view of it that fails on purpose.
  view: (queue: FileQueue) => Queue = (queue) => queue,
) {
  const spool = mkdtempSync(join(tmpdir(), 'homing-delivery-worker-'));
  cleanups.push(() => rmSync(spool, { recursive: true, force: true }));
  const receiver: Receiver = await startReceiver(receiverOptions);
  cleanups.push(() => receiver.close());
  const queue: FileQueue = await openFileQueue({
    spool,
    minimalBackoffMs: 50,
    maximalBackoffMs: 100,
    maximalLifetimeMs: lifetimeMs,
    delayWarningMs: false,
    jitter: 0,
  });
  cleanups.push(() => queue.close());
  const agent: DeliveryAgent = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address] }),
    hostname: 'mta.example.org',
    port: receiver.port,
    addressPreference: 'ipv4',
  });
  cleanups.push(() => agent.close());
  const stop = new AbortController();
  const running = runDeliveryWorker({
    queue: view(queue),
    agent,
    hostname: 'mta.example.org',
    pollIntervalMs: 20,
    now: () => DSN_CLOCK,
    signal: stop.signal,
  });
  cleanups.push(async () => {
    stop.abort();
    await running;
  });
  return { receiver, queue, stop: () => stop.abort(), running };
}

async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const original = Buffer.from('From: alice@example.org\r\nTo: later@example.net\r\nSubject: Plans\r\n\r\nSee you.\r\n');

describe('runDeliveryWorker over a file queue and a real receiver', { timeout: 30_000 }, () => {
  it('retries a 4xx until it is delivered, and bounces a 5xx with a DSN the sender receives', async () => {
    let busy = 1;
    const { receiver, queue } = await setUp({
      rcpt: (address) => {
        if (address === 'gone@example.net') return { code: 550, message: '5.1.1 No such user' };
        if (address === 'later@example.net' && busy-- > 0) return { code: 451, message: '4.3.0 Try again later' };
        return undefined;
      },
    });
    await queue.enqueue(
      { sender: 'alice@example.org', recipients: ['later@example.net', 'gone@example.net'] },
      original,
    );
    // The first attempt defers `later` and fails `gone`; the DSN goes to alice (her MX is the same receiver).
    await waitFor(() => receiver.messages.some((m) => m.to.includes('later@example.net')));
    await waitFor(() => receiver.messages.some((m) => m.to.includes('alice@example.org')));
    const dsn = receiver.messages.find((m) => m.to.includes('alice@example.org'))!;
    expect(dsn.from).toBe('');
    const parsed = parseWithPython(Buffer.from(dsn.data), DSN_SCRIPT) as {
      type: string;
      reportType: string;
      blocks: Record<string, string>[];
      headers: string;
    };
    expect(parsed.type).toBe('multipart/report');
    expect(parsed.reportType).toBe('delivery-status');
    expect(parsed.blocks.slice(1).map((block) => block['Final-Recipient'])).toEqual(['rfc822; gone@example.net']);
    expect(parsed.blocks[1]).toMatchObject({ Action: 'failed', Status: '5.1.1', 'Remote-MTA': 'dns; mx.example.net' });
    expect(parsed.blocks[1]!['Diagnostic-Code']).toMatch(/^smtp; 550/);
    // The worker's `hostname` and `now` options: the Reporting-MTA, and the dates from its clock.
    expect(parsed.blocks[0]!['Reporting-MTA']).toBe('dns; mta.example.org');
    expect(parsed.blocks[1]!['Last-Attempt-Date']).toBe('Mon, 01 Jun 2026 12:00:00 +0000');
    expect(parsed.headers).toContain('Subject: Plans');
    // `later` was tried twice: refused once with 451, then accepted.
    expect(busy).toBeLessThan(0);
    await waitFor(async () => (await queue.list()).length === 0);
  });

  it('tries a settle again while the queue storage is away: delivered once, settled, not left to its lease', async () => {
    // The first two settles fail as a PostgreSQL queue's do while the server restarts.
    let failures = 2;
    const { receiver, queue } = await setUp(
      {},
      60_000,
      (real) =>
        new Proxy(real, {
          get(target, property) {
            if (property === 'settle' && failures > 0) {
              return async () => {
                failures -= 1;
                throw new QueueError('STORAGE_UNAVAILABLE', 'queue database failed while settling a claim (57P01)');
              };
            }
            const value = Reflect.get(target, property);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    );
    await queue.enqueue({ sender: 'alice@example.org', recipients: ['once@example.net'] }, original);
    // Settled by the third try: without it, the claim would wait out its lease (minutes) leased.
    await waitFor(async () => (await queue.list()).length === 0);
    expect(failures).toBe(0);
    expect(receiver.messages.filter((m) => m.to.includes('once@example.net'))).toHaveLength(1);
  });

  it('stops trying a settle again once the worker is stopped: shutdown does not wait for the storage', async () => {
    let failures = 0;
    const { queue, stop, running } = await setUp(
      {},
      60_000,
      (real) =>
        new Proxy(real, {
          get(target, property) {
            if (property === 'settle') {
              return async () => {
                failures += 1;
                throw new QueueError('STORAGE_UNAVAILABLE', 'queue database failed while settling a claim (57P01)');
              };
            }
            const value = Reflect.get(target, property);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    );
    await queue.enqueue({ sender: 'alice@example.org', recipients: ['never@example.net'] }, original);
    await waitFor(() => failures >= 2);
    const stopped = Date.now();
    stop();
    await running;
    // The retries would go on for the claim's whole lease (minutes); the stop ends them at once.
    expect(Date.now() - stopped).toBeLessThan(5000);
    const tries = failures;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(failures).toBe(tries);
  });

  it('bounces a null-MX recipient (RFC 7505) with status 5.1.10', async () => {
    const { receiver, queue } = await setUp({});
    await queue.enqueue({ sender: 'alice@example.org', recipients: ['x@nomail.example'] }, original);
    await waitFor(() => receiver.messages.length === 1);
    const parsed = parseWithPython(Buffer.from(receiver.messages[0]!.data), DSN_SCRIPT) as {
      blocks: Record<string, string>[];
    };
    expect(parsed.blocks[1]).toMatchObject({ 'Final-Recipient': 'rfc822; x@nomail.example', Status: '5.1.10' });
  });

  it('bounces with 5.4.7 when a recipient is still deferred at expiry', async () => {
    const { receiver, queue } = await setUp(
      { rcpt: (address) => (address === 'later@example.net' ? { code: 451, message: 'Busy' } : undefined) },
      300,
    );
    await queue.enqueue({ sender: 'alice@example.org', recipients: ['later@example.net'] }, original);
    await waitFor(() => receiver.messages.some((m) => m.to.includes('alice@example.org')));
    const dsn = receiver.messages.find((m) => m.to.includes('alice@example.org'))!;
    const parsed = parseWithPython(Buffer.from(dsn.data), DSN_SCRIPT) as { blocks: Record<string, string>[] };
    expect(parsed.blocks[1]).toMatchObject({ Action: 'failed', Status: '5.4.7' });
    expect(parsed.blocks[1]!['Diagnostic-Code']).toMatch(/451/);
  });

  it('bounces a message held past its lifetime, and never delivers it (as Postfix does)', async () => {
    const { receiver, queue } = await setUp({}, 300);
    const { id } = await queue.enqueue({ sender: 'alice@example.org', recipients: ['held@example.net'] }, original);
    await queue.hold(id);
    await waitFor(() => receiver.messages.some((m) => m.to.includes('alice@example.org')));
    expect(receiver.messages.some((m) => m.to.includes('held@example.net'))).toBe(false);
    const dsn = receiver.messages.find((m) => m.to.includes('alice@example.org'))!;
    const parsed = parseWithPython(Buffer.from(dsn.data), DSN_SCRIPT) as { blocks: Record<string, string>[] };
    expect(parsed.blocks[1]).toMatchObject({ Action: 'failed', Status: '5.4.7' });
    expect(await queue.inspect(id)).toBeUndefined();
  });
});
