import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, isConfigError } from '../../src/config/config-error';
import { configToKeys } from '../../src/config/config-text';
import { parseConfig } from '../../src/config/load-config';
import { type ConfigFixtures, makeFixtures } from '../config/config-fixtures';

let fx: ConfigFixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx.remove());

const config = (tls: string, extra = '') =>
  ['domain: example.org', 'hostname: mx.example.org', tls, `users: ${fx.users}`, 'state: /var/lib/homing', extra].join(
    '\n',
  );

async function problems(text: string): Promise<string[]> {
  const error = await parseConfig(text, 'homing.yml').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isConfigError(error)).toBe(true);
  return (error as ConfigError).message.split('\n');
}

describe('tls: { acme } in the config', () => {
  it('takes acme instead of cert and key, with every default filled in and the files under {state}/acme/', async () => {
    const loaded = await parseConfig(config('tls: { acme: { email: admin@example.org } }'), '/etc/homing/homing.yml');
    expect(loaded.tls).toEqual({
      cert: '/var/lib/homing/acme/cert.pem',
      key: '/var/lib/homing/acme/key.pem',
      acme: {
        email: 'admin@example.org',
        directory: 'https://acme-v02.api.letsencrypt.org/directory',
        http: [{ host: '::', port: 80 }],
        https: [{ host: '::', port: 443 }],
        renewBeforeMs: 30 * 86_400_000,
        mtaSts: { mode: 'testing', maxAgeSeconds: 604_800 },
      },
    });
  });

  it('is written back by config show as the same keys', async () => {
    const text = config(
      'tls: { acme: { email: a@example.org, https: off, renew_before: 20d, mta_sts: { mode: enforce, max_age: 1d } } }',
    );
    const loaded = await parseConfig(text, '/etc/homing/homing.yml');
    expect(configToKeys(loaded).tls).toEqual({
      acme: {
        email: 'a@example.org',
        directory: 'https://acme-v02.api.letsencrypt.org/directory',
        http: ['[::]:80'],
        https: 'off',
        renew_before: '20d',
        mta_sts: { mode: 'enforce', max_age: '1d' },
      },
    });
  });

  it('refuses acme together with cert and key', async () => {
    const found = await problems(config(`tls: { cert: ${fx.cert}, key: ${fx.key}, acme: { email: a@example.org } }`));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^homing\.yml:3:\d+: tls\.acme: give either cert and key \(your own certificate\) or acme \(one obtained for you\), not both$/,
    );
  });

  it('says what is wrong in the acme keys, each at its place', async () => {
    const found = await problems(
      config('tls:\n  acme:\n    directory: http://ca.test/dir\n    renew_before: soon\n    mta_sts: { mode: strict }'),
    );
    expect(found).toEqual([
      'homing.yml:5:5: tls.acme.email: missing; give the address the CA writes to about this certificate, e.g. email: you@example.org',
      'homing.yml:5:16: tls.acme.directory: "http://ca.test/dir" is not an https:// URL of an ACME directory; e.g. https://acme-v02.api.letsencrypt.org/directory',
      'homing.yml:6:19: tls.acme.renew_before: "soon" is not a number of days; write e.g. 30d',
      'homing.yml:7:22: tls.acme.mta_sts.mode: "strict" is not one of enforce, testing, none; e.g. testing',
    ]);
  });

  it('takes a reflector address at one of our domains only', async () => {
    const loaded = await parseConfig(
      config(`tls: { cert: ${fx.cert}, key: ${fx.key} }`, 'reflector: Check@example.org'),
      'homing.yml',
    );
    expect(loaded.reflector).toBe('check@example.org');
    expect(await problems(config(`tls: { cert: ${fx.cert}, key: ${fx.key} }`, 'reflector: check@example.net'))).toEqual(
      [
        'homing.yml:6:12: reflector: check@example.net is not in our domains (example.org); give an address at one of them',
      ],
    );
  });
});
