import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { runHoming as homing } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      'example.com': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all exp=why.example.com'] },
      'why.example.com': { TXT: ['%{i} is not one of our servers'] },
      'helo.example.com': { TXT: ['v=spf1 a -all'], A: ['198.51.100.1'] },
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('homing spf', { timeout: 30_000 }, () => {
  it('prints one JSON line with the result word for a pass', async () => {
    const run = await homing([
      'spf',
      '--ip',
      '192.0.2.7',
      '--sender',
      'a@example.com',
      '--dns',
      server.address,
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ result: 'pass', mechanism: 'ip4:192.0.2.0/24' });
  });

  it('gives the explanation on fail, and exits 0 since the check ran', async () => {
    const run = await homing([
      'spf',
      '--ip',
      '203.0.113.5',
      '--sender',
      'a@example.com',
      '--dns',
      server.address,
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      result: 'fail',
      explanation: '203.0.113.5 is not one of our servers',
    });
  });

  it('checks the HELO name for the null sender, reading HOMING_DNS', async () => {
    const { code, stdout } = await homing(
      ['spf', '--ip', '198.51.100.1', '--sender', '', '--helo', 'helo.example.com'],
      {
        env: { HOMING_DNS: server.address },
      },
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^pass: /);
    expect(stdout).toContain('identity: helo postmaster@helo.example.com');
  });

  it('says what is wrong with a bad address, without a stack trace', async () => {
    const run = await homing(['spf', '--ip', '999.1.1.1', '--sender', 'a@example.com', '--dns', server.address]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^homing: --ip: "999.1.1.1" is not an IP address; give an IPv4 or IPv6 address/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('needs --helo for the null sender, and --ip', async () => {
    const noHelo = await homing(['spf', '--ip', '192.0.2.1', '--sender', '', '--dns', server.address]);
    expect(noHelo.code).not.toBe(0);
    expect(noHelo.stderr).toContain('needs --helo');
    const noIp = await homing(['spf', '--sender', 'a@example.com']);
    expect(noIp.code).not.toBe(0);
    expect(noIp.stderr).toContain('--ip');
  });
});
