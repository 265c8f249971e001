import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FileQueue, openFileQueue } from '@homing/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createRecipientResolver } from '../../src/server/local-delivery/recipient-resolver';
import { outboundQueue } from '../../src/server/outbound/outbound-queue';

// Where the outbound worker's reports go, on a real file queue: a local sender's report into its
// mailboxes, a failed report once to postmaster, and a failed postmaster report nowhere.

const resolver = createRecipientResolver({
  domains: ['example.org'],
  users: ['alice@example.org', 'pm@example.org'],
  aliases: { 'sales@example.org': ['alice@example.org'] },
  postmaster: ['pm@example.org'],
});
const spools: string[] = [];
const queues: FileQueue[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.close();
  for (const spool of spools.splice(0)) rmSync(spool, { recursive: true, force: true });
});

async function setUp() {
  const spool = mkdtempSync(join(tmpdir(), 'homing-outbound-queue-'));
  spools.push(spool);
  const queue = await openFileQueue({ spool });
  queues.push(queue);
  const view = outboundQueue(queue, {
    domains: () => ['example.org'],
    resolveRecipient: (address) => resolver.resolve(address),
    hostname: () => 'mx.example.org',
  });
  return { queue, view };
}

const message = Buffer.from('From: x@remote.test\r\nSubject: original\r\n\r\nbody\r\n');

describe('outboundQueue', () => {
  it('claims only other domains than ours', async () => {
    const { queue, view } = await setUp();
    await queue.enqueue({ sender: 'alice@example.org', recipients: ['bob@example.org', 'carol@remote.test'] }, message);
    const claims = await view.claim();
    expect(claims.map((claim) => claim.domain)).toEqual(['remote.test']);
  });

  it('routes a report to a local alias sender into its mailbox, in the same settle', async () => {
    const { queue, view } = await setUp();
    await queue.enqueue({ sender: 'sales@example.org', recipients: ['carol@remote.test'] }, message);
    const [claim] = await view.claim();
    await view.settle(claim!.leaseId, [{ recipient: 'carol@remote.test', status: 'failed', reply: '550 5.1.1 gone' }], {
      enqueue: [{ envelope: { sender: '', recipients: ['sales@example.org'] }, body: 'a report' }],
    });
    const [report] = await queue.list();
    expect(report).toMatchObject({ sender: '', attributes: { report: 'dsn' } });
    expect(report!.recipients.map((r) => r.address)).toEqual(['alice@example.org']);
  });

  it('routes a delay warning (enqueued on its own) like the other reports', async () => {
    const { queue, view } = await setUp();
    await view.enqueue({ sender: '', recipients: ['sales@example.org'] }, Buffer.from('a delay warning'));
    await view.enqueue({ sender: 'alice@example.org', recipients: ['sales@example.org'] }, message);
    const [warning, plain] = await queue.list();
    expect(warning).toMatchObject({ sender: '', attributes: { report: 'dsn' } });
    expect(warning!.recipients.map((r) => r.address)).toEqual(['alice@example.org']);
    expect(plain!.recipients.map((r) => r.address)).toEqual(['sales@example.org']);
  });

  it('sends a failed report once to postmaster, and a failed postmaster report nowhere', async () => {
    const { queue, view } = await setUp();
    await queue.enqueue({ sender: '', recipients: ['x@remote.test'], attributes: { report: 'dsn' } }, message);
    const [claim] = await view.claim();
    await view.settle(claim!.leaseId, [
      { recipient: 'x@remote.test', status: 'failed', reply: '550 5.1.1 no such user' },
    ]);
    const [postmaster] = await queue.list();
    expect(postmaster).toMatchObject({ sender: '', attributes: { report: 'postmaster' } });
    expect(postmaster!.recipients.map((r) => r.address)).toEqual(['pm@example.org']);
    let body = '';
    for await (const chunk of await queue.openBody(postmaster!.id)) body += chunk.toString();
    expect(body).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(body).toMatch(/Final-Recipient: rfc822; x@remote\.test/);
    expect(body).toMatch(/Subject: original/);
    // The postmaster report itself fails (postmaster forwards elsewhere, say): that is the end.
    await queue.remove(postmaster!.id);
    await queue.enqueue({ sender: '', recipients: ['y@remote.test'], attributes: { report: 'postmaster' } }, message);
    const [again] = await view.claim();
    await view.settle(again!.leaseId, [{ recipient: 'y@remote.test', status: 'failed', reply: '550 5.1.1 no' }]);
    expect(await queue.list()).toEqual([]);
  });
});
