import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseZones, cleanUp, type HomingServer, startHoming } from './harness';
import { converse } from './smtp-talk';

// Each client comes from its own loopback address, and the loopback DNS server says what the
// world knows about it: 127.0.0.1 is well configured, 127.0.0.2 has no PTR, 127.0.0.3's PTR does
// not resolve back, 127.0.0.4 is on a DNSBL, 127.0.0.6's PTR lookup times out.
function zones() {
  return {
    ...baseZones(),
    '3.0.0.127.in-addr.arpa': { PTR: ['liar.sender.test'] },
    'liar.sender.test': { A: ['192.0.2.1'] },
    '4.0.0.127.in-addr.arpa': { PTR: ['listed.sender.test'] },
    'listed.sender.test': { A: ['127.0.0.4'] },
    '4.0.0.127.bl.test': { A: ['127.0.0.2'], TXT: ['listed for testing'] },
    '6.0.0.127.in-addr.arpa': { timeout: true },
    'spf-fail.test': { TXT: ['v=spf1 -all'] },
    'spf-soft.test': { TXT: ['v=spf1 ~all'] },
    'bank.test': { TXT: ['v=spf1 -all'] },
    '_dmarc.bank.test': { TXT: ['v=DMARC1; p=reject'] },
    'shop.test': { TXT: ['v=spf1 -all'] },
    '_dmarc.shop.test': { TXT: ['v=DMARC1; p=quarantine'] },
  };
}

async function deliver(port: number, from: string, options: { source?: string; header?: string } = {}) {
  const c = await converse(port, options.source);
  const replies = [c.greeting];
  if (!c.greeting.startsWith('220')) {
    c.close();
    return replies;
  }
  replies.push(await c.send('EHLO client.test'));
  replies.push(await c.send(`MAIL FROM:<${from}>`));
  if (replies.at(-1)?.startsWith('250')) {
    replies.push(await c.send('RCPT TO:<alice@example.org>'));
    replies.push(await c.send('DATA'));
    replies.push(await c.send(`${options.header ?? `From: ${from}`}\r\nSubject: filters\r\n\r\nbody\r\n.`));
  }
  c.close();
  return replies;
}

describe('homing start: filters with their default actions', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({
      zones: zones(),
      extraConfig: [
        'filters:',
        '  timeout: 1s',
        '  dnsbl: { zones: [bl.test], message: "Blocked: {ip} is listed in {zone}" }',
      ].join('\n'),
    });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('files mail from a client without PTR in Junk, saying why', async () => {
    const before = server.maildir('alice@example.org', 'Junk');
    const replies = await deliver(server.mxPort, 'someone@sender.test', { source: '127.0.0.2' });
    expect(replies.at(-1)).toMatch(/^250 /);
    const text = await server.waitForNew('alice@example.org', before, 'Junk');
    expect(text).toMatch(/\r\nX-Homing-Junk: rdns; 127\.0\.0\.2 has no PTR record\r\n/);
    await server.waitForLine(/ filter junk address=127\.0\.0\.2 name=rdns reason=/);
    await server.waitForLine(/ delivery local to=<alice@example\.org> folder=Junk result=ok/);
  }, 20_000);

  it('files mail from a client without FCrDNS in Junk', async () => {
    const before = server.maildir('alice@example.org', 'Junk');
    const replies = await deliver(server.mxPort, 'someone@sender.test', { source: '127.0.0.3' });
    expect(replies.at(-1)).toMatch(/^250 /);
    expect(await server.waitForNew('alice@example.org', before, 'Junk')).toMatch(/X-Homing-Junk: fcrdns; /);
  }, 20_000);

  it('refuses a DNSBL-listed client with the configured reply', async () => {
    const replies = await deliver(server.mxPort, 'someone@sender.test', { source: '127.0.0.4' });
    expect(replies[0]).toBe('554 5.7.1 Blocked: 127.0.0.4 is listed in bl.test');
  }, 20_000);

  it('rejects SPF fail at MAIL FROM with 550 5.7.23', async () => {
    const replies = await deliver(server.mxPort, 'ceo@spf-fail.test');
    expect(replies.at(-1)).toMatch(/^550 5\.7\.23 SPF fail for ceo@spf-fail\.test/);
  }, 20_000);

  it('files SPF softfail in Junk', async () => {
    const before = server.maildir('alice@example.org', 'Junk');
    const replies = await deliver(server.mxPort, 'someone@spf-soft.test');
    expect(replies.at(-1)).toMatch(/^250 /);
    expect(await server.waitForNew('alice@example.org', before, 'Junk')).toMatch(/X-Homing-Junk: spf; SPF softfail/);
  }, 20_000);

  it('rejects a message whose From domain has DMARC p=reject and fails, at the end of data', async () => {
    const replies = await deliver(server.mxPort, 'someone@sender.test', { header: 'From: The Bank <ceo@bank.test>' });
    expect(replies.at(-2)).toMatch(/^354/);
    expect(replies.at(-1)).toMatch(/^550 5\.7\.1 Message rejected by the DMARC policy of bank\.test/);
  }, 20_000);

  it('files a DMARC p=quarantine failure in Junk', async () => {
    const before = server.maildir('alice@example.org', 'Junk');
    const replies = await deliver(server.mxPort, 'someone@sender.test', { header: 'From: shop@shop.test' });
    expect(replies.at(-1)).toMatch(/^250 /);
    expect(await server.waitForNew('alice@example.org', before, 'Junk')).toMatch(/X-Homing-Junk: dmarc; /);
  }, 20_000);

  it('tempfails a client whose PTR lookup times out (on_dns_error: tempfail) within the budget', async () => {
    const started = Date.now();
    const c = await converse(server.mxPort, '127.0.0.6');
    const elapsed = Date.now() - started;
    expect(c.greeting).toMatch(/^421 4\.4\.3 /);
    // The budget is 1 s; the reply must come soon after it, never hang.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5000);
    c.close();
  }, 20_000);
});

describe('homing start: filters set to reject, and DNS failure accepted', () => {
  let server: HomingServer;
  beforeAll(async () => {
    server = await startHoming({
      zones: zones(),
      extraConfig: [
        'filters:',
        '  timeout: 1s',
        '  rdns: { action: reject, on_dns_error: accept }',
        '  fcrdns: { action: reject, on_dns_error: accept }',
      ].join('\n'),
    });
  }, 30_000);
  afterAll(() => cleanUp(server));

  it('refuses a client without PTR when the config says reject', async () => {
    const c = await converse(server.mxPort, '127.0.0.2');
    expect(c.greeting).toMatch(/^554 5\.7\.25 127\.0\.0\.2 has no PTR record/);
    c.close();
  }, 20_000);

  it('refuses a client without FCrDNS when the config says reject', async () => {
    const c = await converse(server.mxPort, '127.0.0.3');
    expect(c.greeting).toMatch(/^554 5\.7\.25 /);
    c.close();
  }, 20_000);

  it('accepts a client whose PTR lookup times out when on_dns_error is accept', async () => {
    const replies = await deliver(server.mxPort, 'someone@sender.test', { source: '127.0.0.6' });
    expect(replies[0]).toMatch(/^220 /);
    expect(replies.at(-1)).toMatch(/^250 /);
  }, 20_000);
});
