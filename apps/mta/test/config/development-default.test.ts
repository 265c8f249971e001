import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { developmentConfig } from '../../src/config/development-default';
import { loadConfig } from '../../src/config/load-config';
import { verifyPassword } from '../../src/users/password-hash';
import { readUsersFile } from '../../src/users/users-file';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'homing-dev-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('the development default', { timeout: 30_000 }, () => {
  it('makes a certificate, a user and its password on first start, under {root}/var', async () => {
    const { config, password, notes } = await developmentConfig({ root });
    const state = join(root, 'var');
    expect(config).toEqual({
      source: '(development default)',
      domains: ['example.test'],
      hostname: 'mx.example.test',
      tls: { cert: join(state, 'tls', 'cert.pem'), key: join(state, 'tls', 'key.pem') },
      users: join(state, 'users'),
      state,
      listen: {
        mx: [{ host: '127.0.0.1', port: 2525 }],
        submission: [{ host: '127.0.0.1', port: 2587 }],
        submissions: [{ host: '127.0.0.1', port: 2465 }],
        metrics: [{ host: '127.0.0.1', port: 9325 }],
        control: join(state, 'control.sock'),
      },
      dns: [],
      aliases: {},
      postmaster: ['dev@example.test'],
      filters: expect.objectContaining({
        rdns: expect.objectContaining({ enabled: false }),
        fcrdns: expect.objectContaining({ enabled: false }),
        dnsbl: expect.objectContaining({ enabled: false }),
        spf: expect.objectContaining({ enabled: false }),
        dmarc: expect.objectContaining({ enabled: false }),
      }),
      limits: expect.objectContaining({ messageSize: 25 * 1024 * 1024 }),
      remotePort: 25,
      dkim: { 'example.test': { selector: 'homing' } },
      outbound: {},
    });
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(notes.join('\n')).toMatch(/DNS-based filters \(rdns, fcrdns, dnsbl, spf, dmarc\) are off/);
    expect(notes.join('\n')).toMatch(/made a self-signed certificate/);

    expect((await readFile(join(state, 'dev-password'), 'utf8')).trim()).toBe(password);
    expect(await mode(join(state, 'dev-password'))).toBe(0o600);
    expect(await mode(join(state, 'tls', 'key.pem'))).toBe(0o600);
    expect(await mode(join(state, 'users'))).toBe(0o600);
    const { users } = await readUsersFile(config.users);
    expect(users.map((u) => u.address)).toEqual(['dev@example.test']);
    expect(await verifyPassword(password!, users[0]!.hash)).toBe(true);

    const certificate = new X509Certificate(await readFile(config.tls.cert));
    expect(certificate.subjectAltName).toBe(
      'DNS:mx.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    // The config it wrote beside the state loads as a normal config file.
    expect((await loadConfig(join(state, 'homing.yml'))).filters.spf.enabled).toBe(false);
  });

  it('reuses the certificate and the password afterwards, and returns no password', async () => {
    const state = join(root, 'var');
    const before = await readFile(join(state, 'tls', 'cert.pem'), 'utf8');
    const users = await readFile(join(state, 'users'), 'utf8');
    const again = await developmentConfig({ root });
    expect(again.password).toBeUndefined();
    expect(again.notes.join('\n')).not.toMatch(/made a self-signed certificate/);
    expect(await readFile(join(state, 'tls', 'cert.pem'), 'utf8')).toBe(before);
    expect(await readFile(join(state, 'users'), 'utf8')).toBe(users);
  });

  it('makes a new password when the password file is gone, keeping other users', async () => {
    const state = join(root, 'var');
    const { writeUsersFile } = await import('../../src/users/users-file');
    const { users } = await readUsersFile(join(state, 'users'));
    await writeUsersFile(join(state, 'users'), [...users, { address: 'other@example.test', hash: users[0]!.hash }]);
    await rm(join(state, 'dev-password'));
    const { password } = await developmentConfig({ root });
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const now = await readUsersFile(join(state, 'users'));
    expect(now.users.map((u) => u.address)).toEqual(['dev@example.test', 'other@example.test']);
    expect(await verifyPassword(password!, now.users[0]!.hash)).toBe(true);
  });
});
