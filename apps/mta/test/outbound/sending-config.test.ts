import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, isConfigError } from '../../src/config/config-error';
import { parseConfig } from '../../src/config/load-config';
import { type ConfigFixtures, makeFixtures } from '../config/config-fixtures';

// The sending keys of homing.yml: dkim (defaults, then per domain), relay and outbound.

let fx: ConfigFixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx.remove());

const config = (...lines: string[]) =>
  [
    'domains: [example.org, example.com]',
    'hostname: mx.example.org',
    `tls: { cert: ${fx.cert}, key: ${fx.key} }`,
    `users: ${fx.users}`,
    ...lines,
  ].join('\n');

async function problems(text: string): Promise<string[]> {
  const error = await parseConfig(text, '/etc/homing/homing.yml').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isConfigError(error)).toBe(true);
  return (error as ConfigError).message.split('\n');
}

describe('the sending keys', () => {
  it('give every domain the homing selector and a generated key by default', async () => {
    const loaded = await parseConfig(config(), '/etc/homing/homing.yml');
    expect(loaded.dkim).toEqual({ 'example.org': { selector: 'homing' }, 'example.com': { selector: 'homing' } });
    expect(loaded.relay).toBeUndefined();
    expect(loaded.outbound).toEqual({});
  });

  it('apply dkim defaults to every domain and a domain entry over them, paths from the config directory', async () => {
    const loaded = await parseConfig(
      config(
        'dkim:',
        '  selector: mail',
        '  ed25519: true',
        '  domains:',
        '    example.com: { selector: s2, key: keys/com.pem }',
      ),
      '/etc/homing/homing.yml',
    );
    expect(loaded.dkim).toEqual({
      'example.org': { selector: 'mail', ed25519: { selector: 'mail-ed25519' } },
      'example.com': { selector: 's2', key: '/etc/homing/keys/com.pem', ed25519: { selector: 's2-ed25519' } },
    });
  });

  it('refuse a dkim entry for a domain that is not ours, and a bad selector', async () => {
    const selector = await problems(config('dkim: { selector: "bad selector" }'));
    expect(selector.join('\n')).toMatch(/dkim\.selector.*is not a DKIM selector/);
    const found = await problems(config('dkim:', '  domains:', '    other.net: {}'));
    expect(found.join('\n')).toMatch(/other\.net is not one of our domains \(example\.org, example\.com\)/);
  });

  it('read a relay with its password file, 587 by default, and refuse a username without one', async () => {
    const loaded = await parseConfig(
      config('relay: { host: smtp.example.net, username: alice, password_file: relay-password }'),
      '/etc/homing/homing.yml',
    );
    expect(loaded.relay).toEqual({
      host: 'smtp.example.net',
      port: 587,
      username: 'alice',
      passwordFile: '/etc/homing/relay-password',
    });
    const found = await problems(config('relay: { host: smtp.example.net, username: alice }'));
    expect(found.join('\n')).toMatch(/relay\.username.*add password_file/);
    expect((await problems(config('relay: { hots: smtp.example.net }'))).join('\n')).toMatch(/did you mean host\?/);
  });

  it('read source addresses per family, and ipv6: false', async () => {
    const loaded = await parseConfig(config('outbound: { ipv4: 192.0.2.25, ipv6: false }'), '/etc/homing/homing.yml');
    expect(loaded.outbound).toEqual({ ipv4: '192.0.2.25', ipv6: false });
    const found = await problems(config('outbound: { ipv4: "2001:db8::1" }'));
    expect(found.join('\n')).toMatch(/outbound\.ipv4.*is not an IPv4 address/);
  });
});
