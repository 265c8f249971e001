import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../src/config/config-error';
import { hashPassword, parseArgon2Hash, verifyPassword } from '../../src/users/password-hash';
import { parseUsers, readUsersFile, updateUsersFile, writeUsersFile } from '../../src/users/users-file';

const run = promisify(execFile);
let dir = '';
let hash = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-users-'));
  hash = await hashPassword('correct horse battery staple');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('password hashes', () => {
  it('are argon2id PHC strings with the parameters in the order m, t, p', () => {
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  });

  it('verify the right password and only that one', async () => {
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('get a new salt each time', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });

  it('never match a hash that is not valid, and accept the {ARGON2ID} prefix of Dovecot', async () => {
    expect(await verifyPassword('x', 'not a hash')).toBe(false);
    expect(await verifyPassword('x', '$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2hzb21laGFzaA')).toBe(
      false,
    );
    expect(await verifyPassword('correct horse battery staple', `{ARGON2ID}${hash}`)).toBe(true);
  });

  it('read parameters in any order, bounded', () => {
    const other = '$argon2id$v=19$m=65536,p=4,t=3$nH9b3mwHM9peB8MvgjEdSg$NYCwTu5SD3FLUMXM6OeaFo1F7oOZh1MG64/cS2nuhvM';
    expect(parseArgon2Hash(other)).toMatchObject({ memoryKiB: 65536, passes: 3, lanes: 4 });
    expect(
      parseArgon2Hash(
        '$argon2id$v=19$m=65536,t=99,p=4$nH9b3mwHM9peB8MvgjEdSg$NYCwTu5SD3FLUMXM6OeaFo1F7oOZh1MG64/cS2nuhvM',
      ),
    ).toMatch(/out of range/);
    expect(
      parseArgon2Hash(
        '$argon2id$v=16$m=65536,t=3,p=4$nH9b3mwHM9peB8MvgjEdSg$NYCwTu5SD3FLUMXM6OeaFo1F7oOZh1MG64/cS2nuhvM',
      ),
    ).toMatch(/v=16 is not supported/);
  });

  // Dovecot's passwd-file will read this file later (the {ARGON2ID} scheme, through libsodium).
  it('verify in Dovecot (doveadm pw -t) and in the reference argon2 code (Python argon2-cffi)', async () => {
    if (!existsSync('/usr/bin/doveadm'))
      throw new Error('doveadm missing: run bash .ci/install-peers.sh (dovecot-core)');
    const good = await run('/usr/bin/doveadm', ['pw', '-t', `{ARGON2ID}${hash}`, '-p', 'correct horse battery staple']);
    expect(good.stdout).toContain('(verified)');
    const bad = await run('/usr/bin/doveadm', ['pw', '-t', `{ARGON2ID}${hash}`, '-p', 'wrong']).catch((e) => e);
    expect(bad.code).not.toBe(0);
    const script = 'import argon2,sys\nprint(argon2.PasswordHasher().verify(sys.argv[1], sys.argv[2]))';
    const python = await run('/usr/bin/python3', ['-c', script, hash, 'correct horse battery staple']);
    expect(python.stdout.trim()).toBe('True');
  });
});

describe('the users file', () => {
  it('reads address:hash lines, skipping comments and blank lines', () => {
    const { users, problems } = parseUsers(
      `# users\n\nAlice@Example.ORG:${hash}\r\nbob@example.org:{ARGON2ID}${hash}\n`,
    );
    expect(problems).toEqual([]);
    expect(users).toEqual([
      { address: 'alice@example.org', hash },
      { address: 'bob@example.org', hash },
    ]);
  });

  it('reports a broken line with its number, skips it, and keeps the others', () => {
    const text = [
      `alice@example.org:${hash}`,
      'no colon here',
      `not an address:${hash}`,
      'carol@example.org:plaintext',
      `Alice@example.org:${hash}`,
      `dave@example.org:${hash}`,
    ].join('\n');
    const { users, problems } = parseUsers(text);
    expect(users.map((u) => u.address)).toEqual(['alice@example.org', 'dave@example.org']);
    expect(problems).toEqual([
      { line: 2, message: 'not an address:hash line; add users with homing user add ADDRESS' },
      {
        line: 3,
        message: '"not an address" is not a mail address (local@domain); e.g. alice@example.org; this line is skipped',
      },
      {
        line: 4,
        message: expect.stringMatching(
          /^carol@example\.org: the hash is not an argon2 PHC string .*; set a password with homing user passwd carol@example\.org$/,
        ),
      },
      { line: 5, message: 'alice@example.org is already on an earlier line; this line is skipped' },
    ]);
  });

  it('is written atomically with mode 600 and read back the same', async () => {
    const path = join(dir, 'users');
    await writeFile(path, 'old contents\n', { mode: 0o644 });
    const users = [
      { address: 'alice@example.org', hash },
      { address: 'bob@example.org', hash },
    ];
    await writeUsersFile(path, users);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readUsersFile(path)).toEqual({ users, problems: [] });
    expect((await readFile(path, 'utf8')).split('\n')[1]).toBe(`alice@example.org:${hash}`);
    // Nothing is left beside it: the temporary file was renamed over the old one.
    expect(await readdir(dir)).toEqual(['users']);
  });

  it('keeps mode 600 whatever the umask', async () => {
    const before = process.umask(0o277);
    try {
      await writeUsersFile(join(dir, 'users-umask'), []);
    } finally {
      process.umask(before);
    }
    expect((await stat(join(dir, 'users-umask'))).mode & 0o777).toBe(0o600);
    await rm(join(dir, 'users-umask'));
  });

  it('loses no change when several updates run at once', async () => {
    const path = join(dir, 'users-concurrent');
    const addresses = Array.from({ length: 12 }, (_, i) => `user${i}@example.org`);
    await Promise.all(addresses.map((address) => updateUsersFile(path, address, hash, { must: 'not-exist' })));
    expect((await readUsersFile(path)).users.map((u) => u.address).sort()).toEqual([...addresses].sort());
    expect(await readdir(dir)).not.toContain('users-concurrent.lock');
    const twice = await updateUsersFile(path, 'user0@example.org', hash, { must: 'not-exist' }).catch((e) => e);
    expect(isConfigError(twice, 'USER_EXISTS')).toBe(true);
    const absent = await updateUsersFile(path, 'nobody@example.org', undefined, { must: 'exist' }).catch((e) => e);
    expect(isConfigError(absent, 'USER_NOT_FOUND')).toBe(true);
    await rm(path);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const path = join(dir, 'users-stale');
    await writeFile(`${path}.lock`, '999999999');
    await updateUsersFile(path, 'alice@example.org', hash);
    expect((await readUsersFile(path)).users.map((u) => u.address)).toEqual(['alice@example.org']);
    await rm(path);
  });

  it('says what to do when it is missing or cannot be written', async () => {
    const missing = await readUsersFile(join(dir, 'nope')).catch((e) => e);
    expect(isConfigError(missing, 'FILE_NOT_FOUND')).toBe(true);
    expect(missing.message).toBe(
      `${join(dir, 'nope')}: users file does not exist; create it with homing user add ADDRESS --users ${join(dir, 'nope')}`,
    );
    const unwritable = await writeUsersFile(join(dir, 'no-such-dir', 'users'), []).catch((e) => e);
    expect(isConfigError(unwritable, 'USERS_FILE_UNWRITABLE')).toBe(true);
    expect(unwritable.message).toMatch(/: cannot lock the users file: its directory does not exist$/);
  });
});
