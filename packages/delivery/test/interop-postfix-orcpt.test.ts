import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { type PostfixServer, skipWithoutPeers, startPostfix } from '@homing/test-peers';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent } from '../src/index';

// A typed ORCPT (RFC 3461 4.2, RFC 6533 3) through a real Postfix (a throw-away instance): its
// smtpd takes our `ORCPT=utf-8;...` (utf-8-addr-unitext, SMTPUTF8 on MAIL, since it offers
// SMTPUTF8), and its smtp client passes it on to its next hop (nodemailer's smtp-server on
// loopback, which records the RCPT parameters) with the type kept.
let dns: DnsServer;
let postfix: PostfixServer;
const rcpt: Record<string, unknown>[] = [];
let nextHop: SMTPServer;

beforeAll(async () => {
  nextHop = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    hideDSN: false,
    onRcptTo(address, _session, callback) {
      rcpt.push({ ...(address.args || {}) });
      callback();
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback(null, 'Queued'));
    },
  });
  nextHop.on('error', () => {});
  await new Promise<void>((done) => nextHop.listen(0, '127.0.0.1', () => done()));
  const address = nextHop.server.address();
  if (address === null || typeof address === 'string') throw new Error('next hop has no port');
  postfix = await startPostfix({ hold: '/^X-Hold-Never:/', relayPort: address.port });
  dns = await startDnsServer({
    zones: {
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
    },
  });
}, 60_000);
afterAll(async () => {
  await postfix?.stop();
  await dns?.close();
  await new Promise<void>((done) => nextHop.close(() => done()));
});

describe.skipIf(skipWithoutPeers('postfixServer'))('ORCPT types to a real Postfix smtpd', { timeout: 60_000 }, () => {
  it('is accepted with its utf-8 type, and Postfix relays it on as utf-8 too', async () => {
    const agent = createDeliveryAgent({
      resolver: createResolver({ servers: [dns.address], cache: false }),
      hostname: 'mta.example.org',
      port: postfix.port,
      addressPreference: 'ipv4',
    });
    try {
      const result = await agent.deliver(
        {
          from: 'alice@example.org',
          to: ['dan@example.net'],
          recipientDsn: {
            'dan@example.net': {
              notify: ['SUCCESS', 'FAILURE'],
              originalRecipient: 'dän@example.net',
              originalRecipientType: 'utf-8',
            },
          },
        },
        'From: alice@example.org\r\nTo: dan@example.net\r\nSubject: typed orcpt\r\n\r\nhi\r\n',
      );
      expect(result.recipients.map((r) => [r.status, r.session?.dsn])).toEqual([['delivered', true]]);
      const deadline = Date.now() + 30_000;
      while (rcpt.length === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
      // We sent utf-8-addr-unitext (Postfix offers SMTPUTF8); Postfix passed the type on and wrote
      // the address as utf-8-addr-xtext for its next hop.
      expect(rcpt).toEqual([{ NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'utf-8;d\\x{E4}n@example.net' }]);
    } finally {
      await agent.close();
    }
  });
});
