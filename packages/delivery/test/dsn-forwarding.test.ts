import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { openFileQueue } from '@homing/queue';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryEnvelope, processClaim } from '../src/index';
import { useLoopbackMx } from './loopback-mx';

// RFC 3461 5.2: a relay passes the sender's DSN parameters on to a next hop that offers DSN, and
// sends none to one that does not. The receiver (nodemailer's smtp-server on loopback) records the
// MAIL and RCPT parameters it parsed.

const mx = useLoopbackMx();
const message = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Plans\r\n\r\nSee you.\r\n';

interface Seen {
  mail: Record<string, unknown>[];
  rcpt: { address: string; args: Record<string, unknown> }[];
  ehlo: string[];
}

async function receiver(offersDsn: boolean): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { mail: [], rcpt: [], ehlo: [] };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    hideDSN: !offersDsn,
    onMailFrom(address, _session, callback) {
      seen.mail.push({ ...(address.args || {}) });
      callback();
    },
    onRcptTo(address, _session, callback) {
      seen.rcpt.push({ address: address.address, args: { ...(address.args || {}) } });
      callback();
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback(null, 'Queued'));
    },
  });
  server.on('error', () => {});
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  mx.closers.push(() => new Promise<void>((done) => server.close(() => done())));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  return { port: address.port, seen };
}

const envelope: DeliveryEnvelope = {
  from: 'alice@example.org',
  to: ['bob@example.net', 'carol@example.net'],
  envelopeId: 'trip 42+',
  ret: 'HDRS',
  recipientDsn: {
    'bob@example.net': { notify: ['SUCCESS', 'FAILURE'], originalRecipient: 'Bob@Example.org' },
    'carol@example.net': { notify: ['NEVER'] },
  },
};

async function agentFor(port: number) {
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [mx.dns.address] }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
  });
  mx.agents.push(agent);
  return agent;
}

describe('DSN parameters to the next hop', { timeout: 30_000 }, () => {
  it('sends RET and ENVID on MAIL and NOTIFY and ORCPT on each RCPT as given, when DSN is offered', async () => {
    const { port, seen } = await receiver(true);
    const result = await (await agentFor(port)).deliver(envelope, message);
    expect(result.recipients.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    // smtp-server decodes ENVID's xtext ("trip+2042+2B" on the wire).
    expect(seen.mail[0]).toMatchObject({ RET: 'HDRS', ENVID: 'trip 42+' });
    const bob = seen.rcpt.find((r) => r.address === 'bob@example.net')!;
    const carol = seen.rcpt.find((r) => r.address === 'carol@example.net')!;
    expect(bob.args).toMatchObject({ NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'rfc822;Bob@Example.org' });
    expect(carol.args).toMatchObject({ NOTIFY: 'NEVER' });
    expect(carol.args).not.toHaveProperty('ORCPT');
  });

  it('sends no DSN parameter to a server that does not offer DSN', async () => {
    const { port, seen } = await receiver(false);
    const result = await (await agentFor(port)).deliver(envelope, message);
    expect(result.recipients.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    for (const args of seen.mail) {
      for (const key of ['RET', 'ENVID']) expect(args).not.toHaveProperty(key);
    }
    for (const { args } of seen.rcpt) {
      for (const key of ['NOTIFY', 'ORCPT']) expect(args).not.toHaveProperty(key);
    }
    expect(seen.rcpt).toHaveLength(2);
  });

  it('the worker passes the claim reportOptions (RET, ENVID, NOTIFY, ORCPT) on', async () => {
    const { port, seen } = await receiver(true);
    const spool = mkdtempSync(join(tmpdir(), 'homing-delivery-dsn-next-'));
    const queue = await openFileQueue({ spool, delayWarningMs: false });
    try {
      await queue.enqueue({ sender: 'alice@example.org', recipients: ['bob@example.net'] }, Buffer.from(message));
      const [claim] = await queue.claim({ domain: 'example.net' });
      await processClaim(
        {
          queue,
          agent: await agentFor(port),
          hostname: 'mta.example.org',
          reportOptions: () => ({
            envelopeId: 'q-1',
            ret: 'FULL',
            recipients: { 'bob@example.net': { notify: ['DELAY'], originalRecipient: 'b@example.org' } },
          }),
        },
        claim!,
      );
      expect(seen.mail[0]).toMatchObject({ RET: 'FULL', ENVID: 'q-1' });
      expect(seen.rcpt[0]!.args).toMatchObject({ NOTIFY: 'DELAY', ORCPT: 'rfc822;b@example.org' });
    } finally {
      await queue.close();
      rmSync(spool, { recursive: true, force: true });
    }
  });
});
