// Real files for the config tests (RSA: selfsigned's EC path breaks on this repository's mixed
// @peculiar/asn1-schema copies): a certificate and its key, a second key that does not match,
// a passphrase-protected key, and a users file, in a fresh temporary directory.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface ConfigFixtures {
  dir: string;
  cert: string;
  key: string;
  otherKey: string;
  encryptedKey: string;
  users: string;
  emptyUsers: string;
  /** The config text with `{dir}` replaced, written to `{dir}/homing.yml`; resolves its path. */
  write(text: string, name?: string): Promise<string>;
  remove(): Promise<void>;
}

export const userLines = [
  '# test users',
  'alice@example.org:$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K2S5KLEoT9fGLV6iAwwKZTigMIQ3WoPQ8ADoMhYFhg8',
  'bob@example.org:$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K2S5KLEoT9fGLV6iAwwKZTigMIQ3WoPQ8ADoMhYFhg8',
];

export async function makeFixtures(): Promise<ConfigFixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'homing-config-'));
  const pems = await generate([{ name: 'commonName', value: 'mx.example.org' }], { keySize: 2048 });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const files = {
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    otherKey: join(dir, 'other-key.pem'),
    encryptedKey: join(dir, 'encrypted-key.pem'),
    users: join(dir, 'users'),
    emptyUsers: join(dir, 'empty-users'),
  };
  await writeFile(files.cert, pems.cert);
  await writeFile(files.key, pems.private, { mode: 0o600 });
  await writeFile(files.otherKey, other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(
    files.encryptedKey,
    other.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }),
  );
  await writeFile(files.users, `${userLines.join('\n')}\n`, { mode: 0o600 });
  await writeFile(files.emptyUsers, '');
  return {
    dir,
    ...files,
    async write(text, name = 'homing.yml') {
      const path = join(dir, name);
      await writeFile(path, text.replaceAll('{dir}', dir));
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
