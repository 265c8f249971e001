import { readFileSync } from 'node:fs';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixtures = new URL('../../../packages/policy/test/fixtures/dkim/', import.meta.url);
const message = readFileSync(new URL('rfc8463-A3-signed.eml', fixtures));
const dnsData = JSON.parse(readFileSync(new URL('rfc8463-A2-dns.json', fixtures), 'utf8'));

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({ zones: { ...dnsData, 'example.com': {} } });
});
afterAll(async () => {
  await server?.close();
});

const homing = (args: string[], input: Buffer | string) => runHoming(args, { input });

const base = ['auth', '--ip', '213.165.64.12', '--helo', 'mail.football.example.com', '--hostname', 'mx.example.net'];

describe('homing auth', { timeout: 30_000 }, () => {
  it('prints the Authentication-Results header for a message on stdin', async () => {
    const run = await homing([...base, '--sender', 'joe@football.example.com', '--dns', server.address], message);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Authentication-Results: mx\.example\.net;\r\n spf=pass /);
    expect(run.stdout.match(/dkim=pass/g)).toHaveLength(2);
    expect(run.stdout).toContain('dmarc=none header.from=football.example.com');
  });

  it('prints one JSON line with --json', async () => {
    const run = await homing(
      [...base, '--sender', 'joe@football.example.com', '--dns', server.address, '--json'],
      message,
    );
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const result = JSON.parse(run.stdout);
    expect(result.spf).toBe('pass');
    expect(result.dkim.map((row: { result: string }) => row.result)).toEqual(['pass', 'pass']);
    expect(result.header).toContain('Authentication-Results: mx.example.net;');
  });

  it('says what is wrong with a bad --ip', async () => {
    const run = await homing(['auth', '--ip', 'nope', '--helo', 'h', '--sender', '', '--dns', server.address], message);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `homing: --ip: "nope" is not an IP address; give an IPv4 or IPv6 address, e.g. 192.0.2.1 or 2001:db8::1\n`,
    );
  });
});
