import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createResolver, isDnsError } from '@homing/dns';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/homing.js', import.meta.url));

function homing(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Starts `homing dns serve` and resolves once it prints the address it listens on. */
function serve(args: string[]): Promise<{ child: ChildProcess; address: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'dns', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`homing dns serve did not start: ${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, address: match[1], output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => reject(new Error(`homing dns serve exited: ${output}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-dns-cli-'));
  await writeFile(
    join(dir, 'example.zone'),
    '$ORIGIN example.com.\n$TTL 300\n@ MX 10 mx\n  TXT "v=spf1 mx -all"\nmx A 127.0.0.1\n',
  );
  await writeFile(join(dir, 'reverse.zone'), '$ORIGIN 0.0.127.in-addr.arpa.\n1 PTR mx.example.com.\n');
  await writeFile(join(dir, 'bad.zone'), '$ORIGIN example.com.\nmx A 300.0.0.1\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('homing dns serve', () => {
  it('serves several zone files over UDP and TCP until SIGTERM', async () => {
    const { child, address, output } = await serve([
      join(dir, 'example.zone'),
      join(dir, 'reverse.zone'),
      '--listen',
      '127.0.0.1:0',
    ]);
    try {
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      const resolver = createResolver({ servers: [address], cache: false, timeoutMs: 3000 });
      expect((await resolver.resolveMx('example.com')).records).toEqual([{ exchange: 'mx.example.com', priority: 10 }]);
      expect((await resolver.resolveTxt('example.com')).records).toEqual(['v=spf1 mx -all']);
      expect((await resolver.reverse('127.0.0.1')).records).toEqual(['mx.example.com']);
      const missing = await resolver.resolveA('nope.example.com').catch((error: unknown) => error);
      expect(isDnsError(missing, 'NXDOMAIN')).toBe(true);
      const done = exited(child);
      child.kill('SIGTERM');
      expect(await done).toBe(0);
      expect(output()).toMatch(/stopped on SIGTERM after 4 queries/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('stops on SIGINT too', async () => {
    const { child, output } = await serve([join(dir, 'example.zone'), '--listen', '127.0.0.1:0']);
    const done = exited(child);
    child.kill('SIGINT');
    expect(await done).toBe(0);
    expect(output()).toMatch(/stopped on SIGINT/);
  }, 30_000);

  it('says where a zone file is wrong, without a stack trace', async () => {
    const result = await homing(['dns', 'serve', join(dir, 'bad.zone'), '--listen', '127.0.0.1:0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^homing: .*bad\.zone:2:6: "300\.0\.0\.1" is not an IPv4 address/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('refuses a --listen that is not HOST:PORT, and a port already in use', async () => {
    const bad = await homing(['dns', 'serve', join(dir, 'example.zone'), '--listen', 'localhost']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^homing: --listen "localhost" is not HOST:PORT/);
    const taken = await startDnsServer({ zones: {} });
    try {
      const busy = await homing(['dns', 'serve', join(dir, 'example.zone'), '--listen', taken.address]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/^homing: cannot listen on .*the address is in use/);
    } finally {
      await taken.close();
    }
  }, 30_000);
});

describe('homing dns lookup', () => {
  let server: DnsServer;
  beforeAll(async () => {
    server = await startDnsServer({
      zones: {
        'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], ttl: 120 },
        'mx.example.com': { A: ['127.0.0.1'] },
        'broken.example.com': { servfail: true },
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('prints records with their TTL, asking the server --dns names', async () => {
    const result = await homing(['dns', 'lookup', 'example.com', 'MX', '--dns', server.address]);
    expect(result).toMatchObject({
      code: 0,
      stdout: 'example.com\t120\tMX\t{"exchange":"mx.example.com","priority":10}\n',
    });
  }, 30_000);

  it('prints JSON with --json, asking the server HOMING_DNS names', async () => {
    const result = await homing(['dns', 'lookup', 'mx.example.com', '--json'], { HOMING_DNS: server.address });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      name: 'mx.example.com',
      type: 'A',
      records: ['127.0.0.1'],
      ttl: 300,
      authenticated: false,
    });
  }, 30_000);

  it('names the kind of failure and exits 3 for NXDOMAIN/NODATA, 75 for a temporary failure', async () => {
    const missing = await homing(['dns', 'lookup', 'nope.example.com', '--dns', server.address, '--json']);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'NXDOMAIN' } });
    expect(missing.stderr).toBe('');
    const text = await homing(['dns', 'lookup', 'nope.example.com', '--dns', server.address]);
    expect(text.stderr).toMatch(/^homing: nope\.example\.com does not exist \(NXDOMAIN\)/);
    const broken = await homing(['dns', 'lookup', 'broken.example.com', '--dns', server.address]);
    expect(broken.code).toBe(75);
    expect(broken.stderr).toMatch(/\[SERVFAIL\]/);
  }, 30_000);

  it('refuses a bad --dns value and an unknown type with a message that says what to do', async () => {
    const badDns = await homing(['dns', 'lookup', 'example.com', '--dns', 'ns.example.com']);
    expect(badDns.code).toBe(2);
    expect(badDns.stderr).toMatch(/^homing: --dns "ns.example.com" is not HOST:PORT/);
    const badType = await homing(['dns', 'lookup', 'example.com', 'SRV', '--dns', server.address]);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/^homing: unknown record type "SRV"/);
  }, 30_000);
});
