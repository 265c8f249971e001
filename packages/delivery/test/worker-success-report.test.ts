import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '@homing/dns';
import { openFileQueue } from '@homing/queue';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DsnRequest, processClaim } from '../src/index';
import { useLoopbackMx } from './loopback-mx';
import { DSN_SCRIPT, parseWithPython } from './python-email';

// NOTIFY=SUCCESS through the worker (RFC 3461 6.2.1): a next hop that does not offer DSN gets the
// message without NOTIFY, so we report "relayed", in the same settle as the delivery; one that
// offers DSN is given NOTIFY and ORCPT (with its type) and reports itself: nothing from us.

const mx = useLoopbackMx();
const message = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Plans\r\n\r\nSee you.\r\n';

async function receiver(offersDsn: boolean, offersUtf8 = true) {
  const rcpt: { address: string; args: Record<string, unknown> }[] = [];
  const mail: Record<string, unknown>[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    hideDSN: !offersDsn,
    hideSMTPUTF8: !offersUtf8,
    onMailFrom(address, _session, callback) {
      mail.push({ ...(address.args || {}) });
      callback();
    },
    onRcptTo(address, _session, callback) {
      rcpt.push({ address: address.address, args: { ...(address.args || {}) } });
      callback();
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback(null, 'Ok: queued as 4F2A'));
    },
  });
  server.on('error', () => {});
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  mx.closers.push(() => new Promise<void>((done) => server.close(() => done())));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  return { port: address.port, rcpt, mail };
}

async function deliverOnce(
  offersDsn: boolean,
  request: DsnRequest | undefined,
  sender = 'alice@example.org',
  offersUtf8 = true,
) {
  const { port, rcpt, mail } = await receiver(offersDsn, offersUtf8);
  const spool = mkdtempSync(join(tmpdir(), 'homing-delivery-success-'));
  const queue = await openFileQueue({ spool, delayWarningMs: false });
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [mx.dns.address] }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
  });
  mx.agents.push(agent);
  try {
    await queue.enqueue({ sender, recipients: ['bob@example.net', 'carol@example.net'] }, Buffer.from(message));
    const [claim] = await queue.claim({ domain: 'example.net' });
    const settled = await processClaim(
      { queue, agent, hostname: 'mta.example.org', reportOptions: () => request },
      claim!,
    );
    const reports = (await queue.list()).filter((queued) => queued.sender === '');
    const bodies: Buffer[] = [];
    for (const report of reports) {
      const chunks: Buffer[] = [];
      for await (const chunk of await queue.openBody(report.id)) chunks.push(Buffer.from(chunk));
      bodies.push(Buffer.concat(chunks));
    }
    return { settled, reports, bodies, rcpt, mail };
  } finally {
    await queue.close();
    rmSync(spool, { recursive: true, force: true });
  }
}

const asked: DsnRequest = {
  envelopeId: 'trip-9',
  recipients: {
    'bob@example.net': {
      notify: ['SUCCESS', 'FAILURE'],
      originalRecipient: 'jörg@bücher.example',
      originalRecipientType: 'utf-8',
    },
    'carol@example.net': { notify: ['FAILURE'] },
  },
};

describe('processClaim and NOTIFY=SUCCESS', { timeout: 30_000 }, () => {
  it('queues one "relayed" report, for the recipient that asked, when the next hop has no DSN', async () => {
    const { settled, reports, bodies, rcpt } = await deliverOnce(false, asked);
    expect(settled.complete).toBe(true);
    expect(rcpt.map((r) => r.args)).toEqual([{}, {}]);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.recipients.map((r) => r.address)).toEqual(['alice@example.org']);
    const text = bodies[0]!.toString('utf8');
    // A utf-8 ORCPT makes it a message/global-delivery-status (RFC 6533 6.2).
    expect(text).toContain('Content-Type: message/global-delivery-status');
    expect(text).toContain(
      'Original-Recipient: utf-8; jörg@bücher.example\r\nFinal-Recipient: rfc822; bob@example.net\r\nAction: relayed\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mx.example.net\r\nDiagnostic-Code: smtp; 250 Ok: queued as 4F2A\r\n',
    );
    expect(text).not.toContain('carol@example.net');
  });

  it('queues nothing when the next hop offers DSN, and passes NOTIFY and the typed ORCPT on', async () => {
    const { reports, rcpt, mail } = await deliverOnce(true, asked);
    expect(reports).toHaveLength(0);
    const bob = rcpt.find((r) => r.address === 'bob@example.net')!;
    // smtp-server offers SMTPUTF8: the unitext form, with SMTPUTF8 on MAIL (RFC 6533 3).
    expect(bob.args).toEqual({ NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'utf-8;jörg@bücher.example' });
    expect(mail[0]).toMatchObject({ SMTPUTF8: true, ENVID: 'trip-9' });
  });

  it('sends a utf-8 ORCPT as utf-8-addr-xtext to a next hop without SMTPUTF8', async () => {
    const { reports, rcpt, mail } = await deliverOnce(true, asked, 'alice@example.org', false);
    expect(reports).toHaveLength(0);
    const bob = rcpt.find((r) => r.address === 'bob@example.net')!;
    expect(bob.args).toEqual({ NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'utf-8;j\\x{F6}rg@b\\x{FC}cher.example' });
    expect(mail[0]).not.toHaveProperty('SMTPUTF8');
  });

  it('reports no success without SUCCESS in NOTIFY, nor without NOTIFY, nor to the null sender', async () => {
    for (const request of [
      { recipients: { 'bob@example.net': { notify: ['FAILURE', 'DELAY'] as const } } },
      { recipients: { 'bob@example.net': { notify: ['NEVER'] as const } } },
      undefined,
    ] as DsnRequest[]) {
      expect((await deliverOnce(false, request)).reports).toHaveLength(0);
    }
    expect((await deliverOnce(false, asked, '')).reports).toHaveLength(0);
  });

  it('is a readable multipart/report', async () => {
    const ascii: DsnRequest = {
      recipients: { 'bob@example.net': { notify: ['SUCCESS'], originalRecipient: 'Bob@example.net' } },
    };
    const { bodies } = await deliverOnce(false, ascii);
    const parsed = parseWithPython(bodies[0]!, DSN_SCRIPT) as { type: string; blocks: Record<string, string>[] };
    expect(parsed.type).toBe('multipart/report');
    expect(parsed.blocks[1]).toMatchObject({
      'Original-Recipient': 'rfc822; Bob@example.net',
      Action: 'relayed',
      'Remote-MTA': 'dns; mx.example.net',
    });
  });
});
