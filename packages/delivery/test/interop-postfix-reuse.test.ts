import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { type PostfixServer, type RawServer, rawServer, skipWithoutPeers, startPostfix } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent } from '../src/index';
import { type Receiver, startReceiver } from './peers';

// Interop run F1 (review 2026-12): Postfix refusing a message at the end of data keeps that
// transaction, so a next MAIL on the same session got `503 nested MAIL command`, its recipients
// were failed, and in DATA mode an empty message with the previous sender was queued. Here a
// throw-away Postfix asks a policy service at the end of data (smtpd_end_of_data_restrictions =
// check_policy_service), which refuses the first message of one sender and lets everything
// after it pass, as a greylisting service does; Postfix relays what it accepts to a capture
// receiver. With CHUNKING (BDAT) and without it (DATA).

let dns: DnsServer;
let sink: Receiver;
let policy: RawServer;
const instances: Record<'bdat' | 'data', PostfixServer | undefined> = { bdat: undefined, data: undefined };
/** END-OF-MESSAGE requests the policy service refused, by sender. */
const refusedBy = new Map<string, number>();

/** A Postfix policy service (SMTPD_POLICY_README): refuses the first END-OF-MESSAGE of eod-reject@. */
async function startPolicyService(): Promise<RawServer> {
  return rawServer((socket) => {
    let request: Record<string, string> = {};
    socket.on('data', (data) => {
      for (const line of data.toString('latin1').split('\n')) {
        if (line !== '') {
          const equals = line.indexOf('=');
          request[line.slice(0, equals)] = line.slice(equals + 1);
          continue;
        }
        if (Object.keys(request).length === 0) continue;
        const sender = request.sender ?? '';
        const refuse =
          request.protocol_state === 'END-OF-MESSAGE' && sender === 'eod-reject@example.org' && !refusedBy.has(sender);
        if (refuse) refusedBy.set(sender, 1);
        socket.write(refuse ? 'action=REJECT 5.7.1 Rejected at end of data\n\n' : 'action=DUNNO\n\n');
        request = {};
      }
    });
  });
}

beforeAll(async () => {
  sink = await startReceiver();
  dns = await startDnsServer({ zones: {} });
  policy = await startPolicyService();
  const endOfData = `smtpd_end_of_data_restrictions = check_policy_service inet:127.0.0.1:${policy.port}`;
  // Nothing is held: every accepted message is relayed to the sink.
  const common = { relayPort: sink.port, hold: '/^X-Homing-Never-Held:/' };
  instances.bdat = await startPostfix({ ...common, mainCf: [endOfData] });
  instances.data = await startPostfix({ ...common, mainCf: [endOfData, 'smtpd_discard_ehlo_keywords = chunking'] });
}, 60_000);
afterAll(async () => {
  await instances.bdat?.stop();
  await instances.data?.stop();
  await sink?.close();
  await policy?.close();
  await dns?.close();
});

async function waitFor(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(skipWithoutPeers('postfixServer'))(
  'a message refused at the end of data, then the next one, through a real Postfix',
  { timeout: 60_000 },
  () => {
    it.each(['bdat', 'data'] as const)(
      '%s: the next message arrives intact and Postfix queues no empty message',
      async (mode) => {
        const postfix = instances[mode]!;
        const domain = `${mode}.example`;
        dns.setZones({
          [domain]: { MX: [{ priority: 10, exchange: `mx.${domain}` }] },
          [`mx.${domain}`]: { A: ['127.0.0.1'] },
        });
        const agent = createDeliveryAgent({
          resolver: createResolver({ servers: [dns.address], cache: false }),
          hostname: 'mta.example.org',
          port: postfix.port,
          addressPreference: 'ipv4',
          maxConnectionsPerDomain: 1,
        });
        const before = sink.messages.length;
        refusedBy.clear();
        try {
          const refused = await agent.deliver(
            { from: 'eod-reject@example.org', to: [`first@${domain}`] },
            'From: eod-reject@example.org\r\nSubject: refused\r\n\r\nthis one is refused at the end of data\r\n',
          );
          expect(refused.recipients[0]).toMatchObject({ status: 'failed', enhanced: '5.7.1' });
          expect(refused.recipients[0]!.reply).toMatch(/^554 5\.7\.1 .*Rejected at end of data/);
          const body = `From: innocent@example.org\r\nSubject: innocent (${mode})\r\n\r\nthe next message, intact\r\n.leading dot\r\n`;
          const next = await agent.deliver({ from: 'innocent@example.org', to: [`second@${domain}`] }, body);
          expect(next.recipients[0]).toMatchObject({ status: 'delivered' });
        } finally {
          await agent.close();
        }
        await waitFor(() => sink.messages.length > before);
        // Postfix relays what it queued at once: give a stray empty message time to show up too.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const relayed = sink.messages.slice(before);
        expect(relayed).toHaveLength(1);
        expect(relayed[0]).toMatchObject({ from: 'innocent@example.org', to: [`second@${domain}`] });
        expect(relayed[0]!.data).toContain(`Subject: innocent (${mode})`);
        expect(relayed[0]!.data).toContain('the next message, intact\r\n.leading dot\r\n');
        expect(postfix.log()).not.toMatch(/nested MAIL command/);
        expect(postfix.held()).toBe(0);
      },
    );
  },
);
