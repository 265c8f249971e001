import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWarnings } from '../../src/config/config-warnings';
import { parseConfig } from '../../src/config/load-config';
import { type ConfigFixtures, makeFixtures } from './config-fixtures';

let fx: ConfigFixtures;
let notAfter = 0;
beforeAll(async () => {
  fx = await makeFixtures();
  notAfter = Date.parse(new X509Certificate(await readFile(fx.cert)).validTo);
});
afterAll(() => fx.remove());

const config = (hostname: string, users = fx.users) =>
  parseConfig(
    `domain: example.org\nhostname: ${hostname}\ntls: { cert: ${fx.cert}, key: ${fx.key} }\nusers: ${users}\n`,
    'homing.yml',
  );

describe('config warnings', () => {
  it('are none for a good certificate that names the host and a users file with users', async () => {
    expect(await configWarnings(await config('mx.example.org'), notAfter - 30 * 86_400_000)).toEqual([]);
  });

  it('say when the certificate has expired or expires soon', async () => {
    const [expired] = await configWarnings(await config('mx.example.org'), notAfter + 1000);
    expect(expired).toMatchObject({ file: 'homing.yml', path: 'tls.cert' });
    expect(expired!.message).toMatch(/^the certificate expired on \d{4}-\d\d-\d\d; renew it/);
    const [soon] = await configWarnings(await config('mx.example.org'), notAfter - 3 * 86_400_000 + 1000);
    expect(soon!.message).toMatch(/^the certificate expires on \d{4}-\d\d-\d\d, in 3 days; renew it$/);
  });

  it('say when the certificate does not name the host name', async () => {
    const warnings = await configWarnings(await config('mail.example.org'), notAfter - 30 * 86_400_000);
    expect(warnings).toEqual([
      expect.objectContaining({
        path: 'tls.cert',
        message: expect.stringMatching(
          /^the certificate does not name mail\.example\.org \(it names .*mx\.example\.org.*\); clients that check it refuse it$/,
        ),
      }),
    ]);
  });

  it('give the skipped lines of the users file, and say when it has no users', async () => {
    const users = await fx.write('broken\n', 'users-warn');
    const warnings = await configWarnings(await config('mx.example.org', users), notAfter - 30 * 86_400_000);
    expect(warnings).toEqual([
      {
        file: users,
        line: 1,
        column: 1,
        path: '',
        message: 'not an address:hash line; add users with homing user add ADDRESS',
      },
      {
        file: users,
        line: 0,
        column: 0,
        path: '',
        message: `no users yet, so postmaster@ mail has nobody to go to; add one with homing user add ADDRESS --users ${users}`,
      },
    ]);
    await writeFile(users, '');
  });
});
