import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HOMING_BIN, runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/users/password-hash';
import { readUsersFile } from '../../src/users/users-file';

let dir = '';
let users = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-user-cmd-'));
  users = join(dir, 'users');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const homing = (args: string[], input?: string) => runHoming(args, input === undefined ? {} : { input });
const hashOf = async (path: string, address: string) =>
  (await readUsersFile(path)).users.find((u) => u.address === address)?.hash ?? '';

describe('homing user', { timeout: 60_000 }, () => {
  it('adds a user from --password-stdin to a new users file with mode 600', async () => {
    const result = await homing(
      ['user', 'add', 'Alice@Example.org', '--users', users, '--password-stdin'],
      'first secret\nignored\n',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^added alice@example\\.org to ${users}; a running server reads it on reload`),
    );
    expect((await stat(users)).mode & 0o777).toBe(0o600);
    expect(await verifyPassword('first secret', await hashOf(users, 'alice@example.org'))).toBe(true);
  });

  it('refuses an address that exists, an invalid address and an empty password', async () => {
    const before = await readFile(users, 'utf8');
    const exists = await homing(['user', 'add', 'alice@example.org', '--users', users, '--password-stdin'], 'x\n');
    expect(exists).toMatchObject({
      code: 1,
      stderr: `homing: alice@example.org already exists in ${users}; change its password with homing user passwd alice@example.org\n`,
    });
    const invalid = await homing(['user', 'add', 'not-an-address', '--users', users, '--password-stdin'], 'x\n');
    expect(invalid).toMatchObject({
      code: 2,
      stderr:
        'homing: "not-an-address" is not a mail address (local@domain); give an address such as alice@example.org\n',
    });
    const empty = await homing(['user', 'add', 'bob@example.org', '--users', users, '--password-stdin'], '\n');
    expect(empty).toMatchObject({
      code: 1,
      stderr: 'homing: the password is empty; give one (the users file is unchanged)\n',
    });
    const noTerminal = await homing(['user', 'add', 'bob@example.org', '--users', users]);
    expect(noTerminal.stderr).toBe(
      'homing: no terminal to ask for the password on; pipe it in with --password-stdin\n',
    );
    expect(await readFile(users, 'utf8')).toBe(before);
  });

  it('changes a password and removes a user, keeping comments and other lines', async () => {
    await writeFile(users, `${await readFile(users, 'utf8')}# a comment the admin wrote\nbroken line\n`);
    await homing(['user', 'add', 'bob@example.org', '--users', users, '--password-stdin'], 'bob secret\n');
    const passwd = await homing(
      ['user', 'passwd', 'alice@example.org', '--users', users, '--password-stdin'],
      'second secret\n',
    );
    expect(passwd.code).toBe(0);
    expect(passwd.stderr).toBe(
      `homing: warning: ${users}:4: not an address:hash line; add users with homing user add ADDRESS\n`,
    );
    expect(await verifyPassword('second secret', await hashOf(users, 'alice@example.org'))).toBe(true);
    expect(await verifyPassword('first secret', await hashOf(users, 'alice@example.org'))).toBe(false);
    const removed = await homing(['user', 'remove', 'alice@example.org', '--users', users]);
    expect(removed.stdout).toMatch(/^removed alice@example\.org from /);
    const text = await readFile(users, 'utf8');
    expect(text).toContain('# a comment the admin wrote\nbroken line\nbob@example.org:$argon2id$');
    expect(text).not.toContain('alice@');
    const again = await homing(['user', 'remove', 'alice@example.org', '--users', users]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`homing: no user alice@example.org in ${users} (see homing user list)\n`);
  });

  it('lists users as lines or one line of JSON, never the hashes', async () => {
    const text = await homing(['user', 'list', '--users', users]);
    expect(text.stdout).toBe('bob@example.org\n');
    const json = await homing(['user', 'list', '--users', users, '--json']);
    expect(json.stdout).toBe('{"users":[{"address":"bob@example.org"}]}\n');
  });

  it('finds the users file from --config and keeps users in its domains', async () => {
    const config = join(dir, 'homing.yml');
    await writeFile(
      config,
      'domains: [example.org]\nhostname: mx.example.org\ntls: { cert: c.pem, key: k.pem }\nusers: users\n',
    );
    const added = await homing(['user', 'add', 'carol@example.org', '--config', config, '--password-stdin'], 'carol\n');
    expect(added.code).toBe(0);
    expect((await readUsersFile(users)).users.map((u) => u.address)).toEqual(['bob@example.org', 'carol@example.org']);
    const foreign = await homing(['user', 'add', 'dave@example.net', '--config', config, '--password-stdin'], 'dave\n');
    expect(foreign.stderr).toContain(
      "homing: dave@example.net is not in the config's domains (example.org); add example.net to domains: first\n",
    );
    const missing = await homing(['user', 'list', '--config', join(dir, 'none.yml')]);
    expect(missing.stderr).toMatch(/none\.yml: config file does not exist; pass --config FILE, or --users FILE/);
  });

  it('has --help for each subcommand', async () => {
    for (const name of ['add', 'passwd', 'remove', 'list']) {
      const help = await homing(['user', name, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: homing user ${name}`);
      expect(help.stdout).toContain('--users <file>');
    }
  });

  // A real terminal (a pseudo-terminal from Python's pty module): the password is asked twice
  // and never echoed.
  it('asks twice on a terminal without echoing the password', async () => {
    const script = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
def until(word):
    global out
    while word not in out:
        chunk = os.read(fd, 1024)
        if not chunk: break
        out += chunk
until(b'New password: ')
os.write(fd, b'tty secret\\r')
until(b'Again: ')
os.write(fd, b'tty secret\\r')
try:
    while True:
        chunk = os.read(fd, 1024)
        if not chunk: break
        out += chunk
except OSError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode())
sys.exit(os.waitstatus_to_exitcode(status))
`;
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [
      '-c',
      script,
      process.execPath,
      HOMING_BIN,
      'user',
      'add',
      'erin@example.org',
      '--users',
      users,
    ]);
    expect(stdout).toContain('New password: ');
    expect(stdout).toContain('Again: ');
    expect(stdout).toContain('added erin@example.org');
    expect(stdout).not.toContain('tty secret');
    expect(await verifyPassword('tty secret', await hashOf(users, 'erin@example.org'))).toBe(true);
  });
});
