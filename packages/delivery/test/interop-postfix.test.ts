import { createHash, X509Certificate } from 'node:crypto';
import { createResolver } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { type PostfixServer, skipWithoutPeers, startPostfix } from '@homing/test-peers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBounce, createDeliveryAgent, type DeliveryAgent } from '../src/index';
import { makeCertificates, type TestCertificates } from './certificates';
import { DSN_SCRIPT, parseWithPython } from './python-email';

// Delivery to a real Postfix smtpd (the Debian package's binaries, a throw-away instance on
// loopback that holds what it accepts), found through MX records on the loopback DNS server.
let dns: DnsServer;
let postfix: PostfixServer;
let certs: TestCertificates;
const agents: DeliveryAgent[] = [];

const spkiSha256 = (pem: string) =>
  createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }) as Buffer)
    .digest('hex');

beforeAll(async () => {
  certs = makeCertificates(['mx.example.net']);
  postfix = await startPostfix({
    tls: certs.selfSigned,
    access: { 'gone@example.net': '550 5.1.1 No such user here', 'busy@example.net': '450 4.2.1 Mailbox busy' },
  });
  dns = await startDnsServer({ zones: {} });
}, 60_000);
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
});
afterAll(async () => {
  await postfix?.stop();
  await dns?.close();
});

function agent(): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address], cache: false }),
    hostname: 'mta.example.org',
    port: postfix.port,
    addressPreference: 'ipv4',
    timeouts: {
      connectMs: 3000,
      greetingMs: 10_000,
      commandMs: 10_000,
      mailMs: 10_000,
      rcptMs: 10_000,
      dataStartMs: 10_000,
      dataEndMs: 10_000,
    },
  });
  agents.push(created);
  return created;
}

/** example.net's MX is mx.example.net at 127.0.0.1; `tlsa` adds DNSSEC-signed TLSA records. */
function zones(tlsa?: string) {
  const authenticated = tlsa !== undefined;
  dns.setZones({
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], authenticated },
    'mx.example.net': { A: ['127.0.0.1'], authenticated },
    ...(tlsa === undefined
      ? {}
      : {
          [`_${postfix.port}._tcp.mx.example.net`]: {
            TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: tlsa }],
            authenticated,
          },
        }),
  });
}

describe.skipIf(skipWithoutPeers('postfixServer'))('delivery to a real Postfix smtpd', { timeout: 60_000 }, () => {
  it('delivers over STARTTLS with per-recipient outcomes: 2xx delivered, 4xx deferred, 5xx failed', async () => {
    zones();
    const before = (await postfix.heldMessages()).length;
    const result = await agent().deliver(
      { from: 'a@example.org', to: ['ok@example.net', 'busy@example.net', 'gone@example.net'] },
      'From: a@example.org\r\nTo: ok@example.net\r\nSubject: to postfix\r\n\r\nHello Postfix.\r\n',
    );
    expect(result.recipients.map((r) => [r.status, r.remoteReply?.code])).toEqual([
      ['delivered', 250],
      ['deferred', 450],
      ['failed', 550],
    ]);
    const held = await postfix.heldMessages();
    expect(held.length).toBe(before + 1);
    expect(held.some((text) => text.includes('Subject: to postfix') && text.includes('Hello Postfix.'))).toBe(true);
    // Postfix's own Received header says ESMTPS when the session was under TLS.
    expect(held.some((text) => /with ESMTPS id/.test(text) && text.includes('Subject: to postfix'))).toBe(true);

    const failed = result.recipients[2]!;
    const bounce = createBounce({
      reportingMta: 'mta.example.org',
      sender: 'a@example.org',
      originalMessage: 'Subject: to postfix\r\n\r\nHello Postfix.\r\n',
      recipients: [
        {
          address: failed.recipient,
          action: 'failed',
          status: failed.enhanced,
          remoteMta: failed.mx!,
          reply: failed.remoteReply!,
        },
      ],
    })!;
    const parsed = parseWithPython(bounce.message, DSN_SCRIPT) as { type: string; blocks: Record<string, string>[] };
    expect(parsed.type).toBe('multipart/report');
    expect(parsed.blocks[1]!.Status).toBe('5.1.1');
    expect(parsed.blocks[1]!['Diagnostic-Code']).toBe(
      'smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: No such user here',
    );
  });

  it("delivers under DANE when the TLSA record matches Postfix's key", async () => {
    zones(spkiSha256(certs.selfSigned.cert));
    const before = (await postfix.heldMessages()).length;
    const result = await agent().deliver(
      { from: 'a@example.org', to: ['ok@example.net'] },
      'Subject: dane\r\n\r\nx\r\n',
    );
    expect(result.recipients[0]!.status).toBe('delivered');
    expect((await postfix.heldMessages()).length).toBe(before + 1);
  });

  it('defers on a DANE mismatch and Postfix receives nothing', async () => {
    zones(spkiSha256(certs.server.cert));
    const before = (await postfix.heldMessages()).length;
    const result = await agent().deliver(
      { from: 'a@example.org', to: ['ok@example.net'] },
      'Subject: dane\r\n\r\nx\r\n',
    );
    expect(result.recipients[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect((await postfix.heldMessages()).length).toBe(before);
  });
});
