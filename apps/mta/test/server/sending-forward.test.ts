import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runWithInput } from '@homing/test-peers';
import { authenticate } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpedMessage, type Sink, startSink } from '../outbound/sinks';
import { baseZones, cleanUp, type HomingServer, startHoming } from './harness';
import { converse, swaksTo } from './smtp-talk';

// Forwarding (issue 14 item 7): an alias to an outside address. The copy leaves from an SRS
// sender that passes SPF at the destination (python3-spf), with an ARC set that mailauth
// validates; a bounce to the SRS address goes back to the original sender; junk is not forwarded.

function zones(extra: Record<string, object> = {}) {
  const base = baseZones();
  return {
    ...base,
    net: { SOA: { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 } },
    // Our SPF: this host (127.0.0.1) sends for example.org.
    'example.org': { ...base['example.org'], TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
    'mx.example.net': { A: ['127.0.0.1'] },
    'sender.test': { ...base['sender.test'], MX: [{ priority: 10, exchange: 'mail.sender.test' }] },
    ...extra,
  };
}

/** python3-spf's verdict for (ip, sender, helo), its DNS from the loopback server. */
async function pyspf(dns: string, ip: string, sender: string): Promise<string> {
  const [host, port] = [dns.slice(0, dns.lastIndexOf(':')), dns.slice(dns.lastIndexOf(':') + 1)];
  const script = [
    'import sys, dns.resolver, spf',
    'r = dns.resolver.Resolver(configure=False)',
    `r.nameservers = ["${host}"]; r.port = ${port}`,
    'dns.resolver.default_resolver = r',
    'print(spf.check2(i=sys.argv[1], s=sys.argv[2], h="mx.example.org")[0])',
  ].join('\n');
  return (await runWithInput('/usr/bin/python3', ['-c', script, ip, sender], '')).trim();
}

describe('homing start: forwarding to an outside address', () => {
  let server: HomingServer;
  let sink: Sink;
  let published: Record<string, object> = {};
  beforeAll(async () => {
    const port = await freePort();
    sink = await startSink('127.0.0.1', port);
    server = await startHoming({
      zones: zones(),
      extraConfig: [`remote_port: ${port}`, 'aliases: { "fwd@example.org": bob@example.net }'].join('\n'),
    });
    const txt = readFileSync(join(server.state, 'dkim', 'example.org.homing.txt'), 'utf8');
    published = { 'homing._domainkey.example.org': { TXT: [[...txt.matchAll(/"([^"]*)"/g)].map((m) => m[1]!)] } };
    server.dns.setZones(zones(published));
  }, 30_000);
  afterAll(async () => {
    await cleanUp(server);
    await sink?.stop();
  });

  let srsSender = '';

  it('forwards from an SRS sender that passes SPF, with an ARC chain that validates', async () => {
    const result = await swaksTo(server.mxPort, 'fwd@example.org', [
      '--header',
      'Subject: to forward',
      '--body',
      'pass it on',
    ]);
    expect(result.output).toMatch(/<- +250 /);
    const [dump] = await sink.waitForMessages(1, 15_000);
    srsSender = /X-Mail-Args: <([^>]*)>/.exec(dump!)?.[1] ?? '';
    expect(srsSender).toMatch(/^SRS0=[a-z2-7]{4}=[a-z2-7]{2}=sender\.test=someone@example\.org$/);
    expect(dump).toMatch(/X-Rcpt-Args: <bob@example\.net>/);
    // The destination's SPF check is about our host, for our domain: pass.
    expect(await pyspf(server.dns.address, '127.0.0.1', srsSender)).toBe('pass');
    // Had the original sender been kept, a host outside sender.test's SPF would fail it.
    expect(await pyspf(server.dns.address, '192.0.2.9', 'someone@sender.test')).toBe('fail');
    const message = dumpedMessage(dump!);
    expect(message).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none;/m);
    const resolver = new Resolver();
    resolver.setServers([server.dns.address]);
    const verdict = await authenticate(Buffer.from(message, 'latin1'), {
      ip: '127.0.0.1',
      helo: 'mx.example.org',
      sender: srsSender,
      mta: 'mx.example.net',
      resolver: async (name: string, type: string) => resolver.resolve(name, type as 'TXT'),
    });
    expect(verdict.arc === false ? 'none' : verdict.arc.status.result).toBe('pass');
    // What we saw is carried in the chain: SPF passed for the original sender at our MX.
    expect(message).toMatch(/ARC-Authentication-Results: i=1; mx\.example\.org;[\s\S]*spf=pass/);
  }, 40_000);

  it('sends a bounce to the SRS address back to the original sender, and refuses a forged one', async () => {
    expect(srsSender).not.toBe('');
    const before = sink.messages().length;
    const c = await converse(server.mxPort);
    await c.send('EHLO mx.example.net');
    expect(await c.send('MAIL FROM:<>')).toMatch(/^250/);
    const forged = srsSender.replace(/^SRS0=[a-z2-7]{4}/, 'SRS0=aaaa');
    expect(await c.send(`RCPT TO:<${forged}>`)).toMatch(/^550 5\.1\.1 /);
    expect(await c.send(`RCPT TO:<${srsSender}>`)).toMatch(/^250/);
    expect(await c.send('DATA')).toMatch(/^354/);
    const reply = await c.sendRaw(
      'From: MAILER-DAEMON@mx.example.net\r\nTo: someone@sender.test\r\nSubject: Undelivered Mail\r\n\r\nbob is gone\r\n.\r\n',
    );
    expect(reply).toMatch(/^250/);
    c.close();
    const dumps = await sink.waitForMessages(before + 1, 15_000);
    const bounce = dumps.find((text) => text.includes('Subject: Undelivered Mail'))!;
    expect(bounce).toMatch(/X-Mail-Args: <>/);
    expect(bounce).toMatch(/X-Rcpt-Args: <someone@sender\.test>/);
  }, 30_000);

  it('does not forward mail a filter junked', async () => {
    // 127.0.0.5 has no PTR: the rdns filter junks its mail.
    const c = await converse(server.mxPort, '127.0.0.5');
    await c.send('EHLO mail.sender.test');
    await c.send('MAIL FROM:<someone@sender.test>');
    expect(await c.send('RCPT TO:<fwd@example.org>')).toMatch(/^250/);
    expect(await c.send('DATA')).toMatch(/^354/);
    const reply = await c.sendRaw('From: someone@sender.test\r\nSubject: spammy\r\n\r\nbuy now\r\n.\r\n');
    expect(reply).toMatch(/^550 5\.7\.1 Message looks like spam; it is not forwarded/);
    c.close();
    await server.waitForLine(/ forward-refused .*reason=junk/);
  }, 30_000);
});
