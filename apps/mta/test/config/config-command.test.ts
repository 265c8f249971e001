import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configToKeys } from '../../src/config/config-text';
import { loadConfig, minimalExample } from '../../src/config/load-config';
import { type ConfigFixtures, makeFixtures } from './config-fixtures';

let fx: ConfigFixtures;
let good = '';
beforeAll(async () => {
  fx = await makeFixtures();
  good = await fx.write(
    minimalExample
      .replace('/etc/homing/cert.pem', fx.cert)
      .replace('/etc/homing/key.pem', fx.key)
      .replace('/etc/homing/users', fx.users),
  );
});
afterAll(() => fx.remove());

describe('homing config check', { timeout: 30_000 }, () => {
  it('prints FILE: ok and exits 0 for a valid config', async () => {
    const result = await runHoming(['config', 'check', good]);
    expect(result).toEqual({ code: 0, stdout: `${good}: ok\n`, stderr: '' });
    expect((await runHoming(['config', 'check', '--config', good])).stdout).toBe(`${good}: ok\n`);
  });

  it('prints every problem as file:line:column: key: message on stderr and exits 1', async () => {
    const bad = await fx.write(
      `domain: example.org\nhostnme: mx.example.org\ntls: { cert: /etc/ssl/mx.pem, key: ${fx.key} }\nusers: ${fx.users}\n`,
      'bad.yml',
    );
    const result = await runHoming(['config', 'check', bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `${bad}:1:1: hostname: missing; add the name of this host, e.g. hostname: mx.example.org`,
      `${bad}:2:1: hostnme: unknown key; did you mean hostname?`,
      `${bad}:3:14: tls.cert: file /etc/ssl/mx.pem does not exist; give the path of a PEM certificate`,
    ]);
  });

  it('exits 3 when the file does not exist, and 2 for a usage error', async () => {
    const missing = await runHoming(['config', 'check', join(fx.dir, 'none.yml')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/none\.yml: config file does not exist/);
    const twice = await runHoming(['config', 'check', good, '--config', join(fx.dir, 'other.yml')]);
    expect(twice).toMatchObject({
      code: 2,
      stderr: 'homing: give the config file once, as FILE or as --config FILE\n',
    });
    const unknown = await runHoming(['config', 'check', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("homing: unknown option '--frobnicate'");
  });

  it('warns about broken lines of the users file but still passes', async () => {
    const users = await fx.write(`${(await readFile(fx.users, 'utf8')).trim()}\nbroken line\n`, 'users-broken');
    const file = await fx.write(
      `domain: example.org\nhostname: mx.example.org\ntls: { cert: ${fx.cert}, key: ${fx.key} }\nusers: ${users}\n`,
      'warn.yml',
    );
    const result = await runHoming(['config', 'check', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `${users}:4: warning: not an address:hash line; add users with homing user add ADDRESS\n`,
    );
  });
});

describe('homing config show', { timeout: 30_000 }, () => {
  it('prints the effective config as YAML with snake_case keys and every default', async () => {
    const result = await runHoming(['config', 'show', good]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`# effective config of ${good}, every default filled in`);
    const keys = parse(result.stdout);
    expect(Object.keys(keys)).toEqual([
      'domains',
      'hostname',
      'tls',
      'users',
      'state',
      'listen',
      'dns',
      'aliases',
      'postmaster',
      'quota',
      'remote_port',
      'dkim',
      'outbound',
      'limits',
      'filters',
    ]);
    expect(keys.listen).toEqual({
      mx: ['[::]:25'],
      submission: ['[::]:587'],
      submissions: ['[::]:465'],
      metrics: ['127.0.0.1:9325'],
      control: '/var/lib/homing/control.sock',
    });
    expect(keys.limits).toEqual({
      message_size: '25M',
      recipients: 100,
      line_length: '64K',
      connections: 1000,
      connections_per_ip: 20,
      idle_timeout: '5m',
      tls_handshake_timeout: '30s',
    });
    expect(keys.filters.timeout).toBe('5s');
    expect(keys.filters.rdns).toEqual({ enabled: true, action: 'junk', on_dns_error: 'tempfail' });
    expect(keys.quota).toBe('none');
  });

  it('prints text that loads back to the same config', async () => {
    const full = await fx.write(
      `${await readFile(good, 'utf8')}\nquota: 500M\naliases: { "@example.org": alice@example.org }\nlimits: { idle_timeout: 90s }\nfilters: { dnsbl: { zones: [bl.example.net] } }\n`,
      'full.yml',
    );
    const shown = (await runHoming(['config', 'show', full])).stdout;
    const again = await fx.write(shown, 'shown.yml');
    const [before, after] = await Promise.all([loadConfig(full), loadConfig(again)]);
    expect({ ...after, source: full }).toEqual(before);
  });

  it('prints the same keys as one line of JSON with --json', async () => {
    const result = await runHoming(['config', 'show', good, '--json']);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(result.stdout)).toEqual(configToKeys(await loadConfig(good)));
  });

  it('exits 1 with the problems for an invalid config', async () => {
    const bad = await fx.write('domain: example.org\n', 'show-bad.yml');
    const result = await runHoming(['config', 'show', bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${bad}:1:1: hostname: missing`);
  });
});
