import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { runHoming as homing } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'in-addr.arpa': {},
      'example.com': {},
      '1.2.0.192.in-addr.arpa': { PTR: ['mail.example.com'] },
      '2.2.0.192.in-addr.arpa': { PTR: ['liar.example.com'] },
      'mail.example.com': { A: ['192.0.2.1'] },
      'liar.example.com': { A: ['203.0.113.1'] },
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('homing rdns', { timeout: 30_000 }, () => {
  it('prints the PTR names and the FCrDNS result as one JSON line', async () => {
    const run = await homing(['rdns', '192.0.2.1', '--dns', server.address, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      ip: '192.0.2.1',
      rdns: 'pass',
      names: ['mail.example.com'],
      fcrdns: 'pass',
      confirmed: ['mail.example.com'],
      reason: 'mail.example.com resolves back to 192.0.2.1',
    });
  });

  it('reports a PTR name that does not resolve back, and an address without PTR', async () => {
    const liar = await homing(['rdns', '192.0.2.2', '--dns', server.address]);
    expect(liar.stdout).toContain('rdns: pass (liar.example.com)');
    expect(liar.stdout).toContain('fcrdns: fail');
    const none = await homing(['rdns', '192.0.2.3', '--dns', server.address, '--json']);
    expect(JSON.parse(none.stdout)).toMatchObject({ rdns: 'none', names: [], fcrdns: 'none' });
  });

  it('rejects what is not an IP address', async () => {
    const run = await homing(['rdns', 'mail.example.com', '--dns', server.address]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'homing: "mail.example.com" is not an IP address; give an IPv4 or IPv6 address, e.g. 192.0.2.1 or 2001:db8::1\n',
    );
  });
});
