import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type FileQueue, openFileQueue, type Queue } from '@homing/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type LocalDeliveryWorker,
  startLocalDeliveryWorker,
} from '../../src/server/local-delivery/local-delivery-worker';
import { createMaildirStore, type MaildirStore } from '../../src/server/local-delivery/maildir';
import { nodeMaildirFileSystem } from '../../src/server/local-delivery/maildir-file-system';
import { eventually, names, recordingLog, recordingMetrics, temporaryDirectory } from './helpers';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let queue: FileQueue;
let workers: LocalDeliveryWorker[] = [];
beforeEach(async () => {
  const temporary = await temporaryDirectory('local-delivery');
  dir = temporary.path;
  cleanup = temporary.remove;
  queue = await openFileQueue({ spool: join(dir, 'spool'), minimalBackoffMs: 30, maximalBackoffMs: 60 });
  workers = [];
});
afterEach(async () => {
  for (const worker of workers) await worker.stop();
  await queue.close().catch(() => undefined);
  await cleanup();
});

const mail = () => join(dir, 'mail');
const body = (subject: string) =>
  Buffer.from(`Message-ID: <${subject}@example.net>\r\nSubject: ${subject}\r\n\r\nHello\r\n`);
const maildirFiles = async (mailbox: string, folder = '') => {
  const [local, domain] = mailbox.split('@') as [string, string];
  const base = join(mail(), domain, local, folder);
  return [
    ...(await names(join(base, 'new'))).map((n) => join(base, 'new', n)),
    ...(await names(join(base, 'cur'))).map((n) => join(base, 'cur', n)),
  ];
};

function start(options: Partial<Parameters<typeof startLocalDeliveryWorker>[0]> = {}) {
  const log = recordingLog();
  const metrics = recordingMetrics();
  const store = options.store ?? createMaildirStore({ root: mail(), hostname: 'mx.example.org' });
  const worker = startLocalDeliveryWorker({
    queue,
    domains: ['example.org', 'Example.NET'],
    store,
    log,
    metrics,
    pollMs: 20,
    ...options,
  });
  workers.push(worker);
  return { worker, log, metrics, store };
}

const deliveryLines = (log: ReturnType<typeof recordingLog>) =>
  log.events.filter((e) => e.subsystem === 'delivery' && e.event === 'local');

describe('the local delivery worker', { timeout: 30_000 }, () => {
  it('delivers queued local recipients to their Maildirs, settles them and logs one line each', async () => {
    const { id } = await queue.enqueue(
      {
        sender: 'zoe@example.com',
        recipients: ['alice@example.org', 'bob@example.net'],
        attributes: { msgid: '<m1@x>' },
      },
      body('m1'),
    );
    const { worker, log, metrics } = start();
    worker.kick();
    await eventually(async () => (await queue.inspect(id)) === undefined);
    const [alice] = await maildirFiles('alice@example.org');
    expect(await readFile(alice as string, 'utf8')).toBe(
      `Return-Path: <zoe@example.com>\r\nDelivered-To: alice@example.org\r\n${body('m1')}`,
    );
    expect(await maildirFiles('bob@example.net')).toHaveLength(1);
    const lines = deliveryLines(log);
    expect(lines.map((l) => l.fields.to).sort()).toEqual(['<alice@example.org>', '<bob@example.net>']);
    for (const line of lines) {
      expect(Object.keys(line.fields).slice(0, 5)).toEqual(['to', 'folder', 'result', 'msgid', 'file']);
      expect(line.id).toBe(id);
      expect(line.fields).toMatchObject({ folder: 'INBOX', result: 'ok', msgid: '<m1@x>' });
      expect(String(line.fields.file)).toMatch(/\/new\/\d+\.Q[0-9a-f]{16}\.R[0-9a-f]{8}\.mx\.example\.org,S=\d+$/);
    }
    expect(metrics.deliveries).toEqual(['ok INBOX', 'ok INBOX']);
  });

  it('files a message with the folder attribute Junk into .Junk', async () => {
    const { id } = await queue.enqueue(
      { sender: 'spam@example.com', recipients: ['alice@example.org'], attributes: { folder: 'Junk', junk: 'fcrdns' } },
      body('junk'),
    );
    const { log, metrics } = start();
    await eventually(async () => (await queue.inspect(id)) === undefined);
    expect(await maildirFiles('alice@example.org', '.Junk')).toHaveLength(1);
    expect(await maildirFiles('alice@example.org')).toHaveLength(0);
    expect(deliveryLines(log)[0]?.fields.folder).toBe('Junk');
    expect(metrics.deliveries).toEqual(['ok Junk']);
  });

  it('claims only the recipients of our domains', async () => {
    const { id } = await queue.enqueue(
      { sender: 'alice@example.org', recipients: ['carol@example.com', 'alice@example.org'] },
      body('mixed'),
    );
    start();
    await eventually(async () => (await maildirFiles('alice@example.org')).length === 1);
    await eventually(async () => (await queue.inspect(id))?.recipients[1]?.state === 'delivered');
    const info = await queue.inspect(id);
    expect(info?.recipients.map((r) => `${r.address} ${r.state} ${r.attempts}`)).toEqual([
      'carol@example.com pending 0',
      'alice@example.org delivered 1',
    ]);
    expect(await names(mail())).toEqual(['example.org']);
  });

  it('reads the domains again at each look when given a function (a reload may add one)', async () => {
    let domains: string[] = ['example.net'];
    const { worker } = start({ domains: () => domains });
    const { id } = await queue.enqueue({ sender: '', recipients: ['alice@example.org'] }, body('later'));
    worker.kick();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await queue.inspect(id))?.recipients[0]?.state).toBe('pending');
    domains = ['example.net', 'example.org'];
    worker.kick();
    await eventually(async () => (await queue.inspect(id)) === undefined);
  });

  it('delivers right after kick(), not at the next poll', async () => {
    const { worker } = start({ pollMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the first look found nothing
    const { id } = await queue.enqueue({ sender: '', recipients: ['alice@example.org'] }, body('kick'));
    worker.kick();
    await eventually(async () => (await queue.inspect(id)) === undefined, 2_000);
  });

  it('delivers many messages in parallel, each exactly once, with at most `concurrency` at a time', async () => {
    const real = createMaildirStore({ root: mail(), hostname: 'mx.example.org' });
    let active = 0;
    let peak = 0;
    const started = new Map<string, number>();
    const store: MaildirStore = {
      ...real,
      async deliver(delivery) {
        const key = `${delivery.queueId} ${delivery.recipient}`;
        started.set(key, (started.get(key) ?? 0) + 1);
        active += 1;
        peak = Math.max(peak, active);
        try {
          return await real.deliver(delivery);
        } finally {
          active -= 1;
        }
      },
    };
    const ids = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        queue.enqueue({ sender: 'x@example.com', recipients: [`user${i % 3}@example.org`] }, body(`n${i}`)),
      ),
    );
    start({ store, concurrency: 8 });
    await eventually(async () => (await queue.list()).length === 0);
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(1);
    expect([...started.values()].every((n) => n === 1)).toBe(true);
    expect(started.size).toBe(ids.length);
    let files = 0;
    for (let i = 0; i < 3; i += 1) files += (await maildirFiles(`user${i}@example.org`)).length;
    expect(files).toBe(60);
  });
});

describe('exactly once across a crash between the rename and the settle', { timeout: 30_000 }, () => {
  /** A queue whose settles never reach the journal: as if the process died right after the rename. */
  const crashingBeforeSettle = (real: Queue): Queue =>
    new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'settle') return async () => new Promise(() => undefined);
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

  const crashAndRestart = async (id: string, afterCrash?: (files: string[]) => Promise<void>) => {
    const first = start({ queue: crashingBeforeSettle(queue) });
    await eventually(async () => (await maildirFiles('alice@example.org')).length === 1);
    // The settle hangs forever: the worker of the dead process is simply dropped.
    workers = workers.filter((w) => w !== first.worker);
    await queue.close();
    await afterCrash?.(await maildirFiles('alice@example.org'));
    queue = await openFileQueue({ spool: join(dir, 'spool') });
    expect((await queue.inspect(id))?.recipients[0]?.state).toBe('pending');
    const second = start();
    await eventually(async () => (await queue.inspect(id)) === undefined);
    return second;
  };

  it('finds the file in new/ after the restart, settles it delivered and writes no second copy', async () => {
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('c1'));
    const { log, metrics } = await crashAndRestart(id);
    expect(await maildirFiles('alice@example.org')).toHaveLength(1);
    expect(deliveryLines(log)[0]?.fields).toMatchObject({ result: 'ok', duplicate: true });
    expect(metrics.deliveries).toEqual(['ok INBOX']);
  });

  it('finds it after Dovecot moved it to cur/ with :2,S before the restart', async () => {
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('c2'));
    await crashAndRestart(id, async ([file]) => {
      await rename(file as string, `${(file as string).replace('/new/', '/cur/')}:2,S`);
    });
    const files = await maildirFiles('alice@example.org');
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\/cur\/.*:2,S$/);
  });

  it('does the same within one run when a settle fails (the next attempt checks)', async () => {
    let failSettle = true;
    const flaky = new Proxy(queue as Queue, {
      get(target, property, receiver) {
        if (property === 'settle') {
          return async (...args: Parameters<Queue['settle']>) => {
            if (failSettle) {
              failSettle = false;
              throw new Error('journal fsync failed');
            }
            return target.settle(...args);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('c3'));
    const { log } = start({ queue: flaky, leaseMs: 100 });
    await eventually(async () => (await queue.inspect(id)) === undefined);
    expect(await maildirFiles('alice@example.org')).toHaveLength(1);
    expect(log.events.some((e) => e.event === 'settle-failed')).toBe(true);
    expect(deliveryLines(log).at(-1)?.fields.duplicate).toBe(true);
  });
});

describe('deferrals and failures', { timeout: 30_000 }, () => {
  it('defers a message that would take the mailbox over its quota with 452 4.2.2', async () => {
    const first = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('q1'));
    const { metrics, log } = start({ quota: 150 });
    await eventually(async () => (await queue.inspect(first.id)) === undefined);
    const second = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('q2'));
    await eventually(async () => (await queue.inspect(second.id))?.recipients[0]?.state === 'deferred');
    expect((await queue.inspect(second.id))?.recipients[0]?.reply).toBe('452 4.2.2 mailbox full');
    expect(await maildirFiles('alice@example.org')).toHaveLength(1);
    expect(metrics.deliveries.slice(0, 2)).toEqual(['ok INBOX', 'deferred INBOX']);
    expect(deliveryLines(log)[1]?.fields).toMatchObject({ result: 'deferred', reply: '452 4.2.2 mailbox full' });
  });

  it('defers on a disk error, and the poll delivers it when the retry comes due', async () => {
    let failures = 1;
    const store = createMaildirStore({
      root: mail(),
      hostname: 'mx.example.org',
      fileSystem: {
        ...nodeMaildirFileSystem,
        async create(path) {
          if (path.includes('/tmp/') && failures > 0) {
            failures -= 1;
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          }
          return nodeMaildirFileSystem.create(path);
        },
      },
    });
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('d1'));
    const { log, metrics } = start({ store });
    await eventually(async () => (await queue.inspect(id)) === undefined);
    expect(deliveryLines(log).map((l) => `${l.fields.result} ${l.fields.reply ?? ''}`)).toEqual([
      'deferred 452 4.3.1 insufficient system storage',
      'ok ',
    ]);
    expect(metrics.deliveries).toEqual(['deferred INBOX', 'ok INBOX']);
    expect(await maildirFiles('alice@example.org')).toHaveLength(1);
  });

  it('fails the recipients of an expired claim with 550 5.4.7', async () => {
    const expiring = new Proxy(queue as Queue, {
      get(target, property, receiver) {
        if (property === 'claim') {
          return async (...args: Parameters<Queue['claim']>) =>
            (await target.claim(...args)).map((claim) => ({ ...claim, expired: true }));
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('e1'));
    let settled: Awaited<ReturnType<Queue['settle']>> | undefined;
    const watching = new Proxy(expiring, {
      get(target, property, receiver) {
        if (property === 'settle') {
          return async (...args: Parameters<Queue['settle']>) => {
            settled = await target.settle(...args);
            return settled;
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const { metrics } = start({ queue: watching });
    await eventually(async () => (await queue.inspect(id)) === undefined);
    expect(settled?.failed.map((r) => `${r.address} ${r.reply}`)).toEqual([
      'alice@example.org 550 5.4.7 delivery time expired',
    ]);
    expect(await maildirFiles('alice@example.org')).toHaveLength(0);
    expect(metrics.deliveries).toEqual(['failed INBOX']);
  });

  const slowStore = (ms: number) => {
    const real = createMaildirStore({ root: mail(), hostname: 'mx.example.org' });
    const counter = { calls: 0 };
    const store: MaildirStore = {
      ...real,
      async deliver(delivery) {
        counter.calls += 1;
        await new Promise((resolve) => setTimeout(resolve, ms));
        return real.deliver(delivery);
      },
    };
    return { store, counter };
  };
  const withRenewLease = (renew: Queue['renewLease']): Queue =>
    new Proxy(queue as Queue, {
      get(target, property, receiver) {
        if (property === 'renewLease') return renew;
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

  it('renews the lease of a delivery that outlasts it, so nobody claims it meanwhile', async () => {
    const { store, counter } = slowStore(400);
    let renewals = 0;
    const renewing = withRenewLease(async (leaseId, leaseMs) => {
      renewals += 1;
      return queue.renewLease(leaseId, leaseMs);
    });
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('r1'));
    const { log } = start({ queue: renewing, store, leaseMs: 100 });
    await eventually(async () => (await queue.inspect(id)) === undefined);
    expect(renewals).toBeGreaterThan(2);
    expect(counter.calls).toBe(1);
    expect(log.events.some((e) => e.event === 'settle-failed' || e.event === 'lease-renewal-failed')).toBe(false);
    expect(await maildirFiles('alice@example.org')).toHaveLength(1);
  });

  it('settles with the newer lease when the lease ran out anyway and it claimed the message again', async () => {
    const { store, counter } = slowStore(300);
    const failing = withRenewLease(async () => {
      throw new Error('renewal refused');
    });
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('l1'));
    const { log } = start({ queue: failing, store, leaseMs: 50 });
    await eventually(async () => (await queue.inspect(id)) === undefined);
    expect(counter.calls).toBe(1);
    expect(log.events.some((e) => e.event === 'settle-failed')).toBe(false);
    expect(await maildirFiles('alice@example.org')).toHaveLength(1);
  });

  it('fails a message past its lifetime with 550 5.4.7, its bounce queued in the same settle', async () => {
    await queue.close();
    // A clock that jumps past the lifetime after the enqueue (the bounce, queued later, is young).
    let offset = 0;
    const clock = { now: () => Date.now() + offset };
    queue = await openFileQueue({ spool: join(dir, 'spool-expiring'), maximalLifetimeMs: 60_000, now: clock.now });
    const { id } = await queue.enqueue(
      { sender: 'bob@example.org', recipients: ['alice@example.org'], attributes: { msgid: '<old@x>' } },
      body('old'),
    );
    offset = 61_000;
    const { metrics, log } = start({
      bounces: (claim, failed) => [
        {
          envelope: { sender: '', recipients: [claim.sender] },
          body: `Subject: Undelivered Mail\r\n\r\n${failed.map((f) => `${f.recipient}: ${f.reply}`).join('\r\n')}\r\n`,
        },
      ],
    });
    await eventually(async () => (await maildirFiles('bob@example.org')).length === 1);
    expect(await queue.inspect(id)).toBeUndefined();
    expect(await maildirFiles('alice@example.org')).toHaveLength(0);
    const [bounce] = await maildirFiles('bob@example.org');
    expect(await readFile(bounce as string, 'utf8')).toMatch(
      /^Return-Path: <>\r\nDelivered-To: bob@example.org\r\nSubject: Undelivered Mail\r\n\r\nalice@example.org: 550 5.4.7 delivery time expired\r\n$/,
    );
    expect(metrics.deliveries).toEqual(['failed INBOX', 'ok INBOX']);
    expect(deliveryLines(log)[0]?.fields).toMatchObject({
      to: '<alice@example.org>',
      result: 'failed',
      msgid: '<old@x>',
    });
  });
});

describe('stop', { timeout: 30_000 }, () => {
  it('finishes the deliveries in flight and claims nothing afterwards', async () => {
    const real = createMaildirStore({ root: mail(), hostname: 'mx.example.org' });
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow: MaildirStore = {
      ...real,
      async deliver(delivery) {
        entered();
        await new Promise((resolve) => setTimeout(resolve, 200));
        return real.deliver(delivery);
      },
    };
    const { id } = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('s1'));
    const { worker } = start({ store: slow });
    await inside;
    await worker.stop();
    expect(await queue.inspect(id)).toBeUndefined();
    const later = await queue.enqueue({ sender: 'a@example.com', recipients: ['alice@example.org'] }, body('s2'));
    worker.kick();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await queue.inspect(later.id))?.recipients[0]?.state).toBe('pending');
  });
});
