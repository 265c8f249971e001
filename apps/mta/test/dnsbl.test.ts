import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { runHoming as homing } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'zen.spamhaus.org': {},
      'bl.example.net': {},
      '2.0.0.127.zen.spamhaus.org': { A: ['127.0.0.2'], TXT: ['listed for testing'] },
      '2.0.0.127.bl.example.net': { A: ['127.255.255.254'] },
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('homing dnsbl', { timeout: 30_000 }, () => {
  it('prints the listing with its meaning and reason as one JSON line', async () => {
    const run = await homing(['dnsbl', '127.0.0.2', '--zone', 'zen.spamhaus.org', '--dns', server.address, '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ip: '127.0.0.2', listed: true });
    expect(result.zones[0]).toMatchObject({ status: 'listed', reason: 'listed for testing' });
    expect(result.zones[0].codes[0].meaning).toContain('SBL');
  });

  it('takes several zones and does not count a zone error code as a listing', async () => {
    const run = await homing(['dnsbl', '127.0.0.2', '--zone', 'bl.example.net', '--dns', server.address]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('127.0.0.2: not listed');
    expect(run.stdout).toContain('bl.example.net: no-answer');
    const two = await homing([
      'dnsbl',
      '127.0.0.3',
      '--zone',
      'zen.spamhaus.org,bl.example.net',
      '--dns',
      server.address,
      '--json',
    ]);
    expect(JSON.parse(two.stdout).zones.map((zone: { status: string }) => zone.status)).toEqual([
      'not-listed',
      'not-listed',
    ]);
  });

  it('says what to give for a bad zone or a missing --zone', async () => {
    const bad = await homing(['dnsbl', '127.0.0.2', '--zone', 'not a zone', '--dns', server.address]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^homing: --zone: not a DNSBL zone name: "not a zone" \(e\.g\. zen\.spamhaus\.org\)/);
    const missing = await homing(['dnsbl', '127.0.0.2']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--zone');
  });
});
