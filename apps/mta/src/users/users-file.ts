// The users file: one `address:hash` line per user, `#` comments and blank lines allowed, the hash
// a PHC argon2id string (see password-hash.ts). Dovecot's passwd-file reads the same lines with
// the hash prefixed by `{ARGON2ID}`; that prefix is accepted here too, so one file can serve both.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../config/config-error';
import { parseAddress } from '../config/config-values';
import { parseArgon2Hash } from './password-hash';

export { hashPassword, verifyPassword } from './password-hash';

/** One user: the address (lower-case) and the password hash. */
export interface User {
  address: string;
  hash: string;
}

/** A line of the users file that was skipped, and why. */
export interface UsersFileProblem {
  /** 1-based line number. */
  line: number;
  message: string;
}

/** Parses the text of a users file: every good line is a user, every broken line a problem (and skipped). */
export function parseUsers(text: string): { users: User[]; problems: UsersFileProblem[] } {
  const users: User[] = [];
  const problems: UsersFileProblem[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const report = (message: string) => problems.push({ line: index + 1, message });
    const colon = line.indexOf(':');
    if (colon < 0) {
      report('not an address:hash line; add users with homing user add ADDRESS');
      continue;
    }
    const address = parseAddress(line.slice(0, colon));
    if (!address.ok) {
      report(`${address.message}; this line is skipped`);
      continue;
    }
    const hash = line.slice(colon + 1).replace(/^\{ARGON2ID\}/i, '');
    const parsed = parseArgon2Hash(hash);
    if (typeof parsed === 'string') {
      report(`${address.value}: the hash is ${parsed}; set a password with homing user passwd ${address.value}`);
      continue;
    }
    if (seen.has(address.value)) {
      report(`${address.value} is already on an earlier line; this line is skipped`);
      continue;
    }
    seen.add(address.value);
    users.push({ address: address.value, hash });
  }
  return { users, problems };
}

/** Reads a users file; a broken line is reported with its number and skipped, the others still work. */
export async function readUsersFile(path: string): Promise<{ users: User[]; problems: UsersFileProblem[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = { file: path, line: 0, column: 0, path: '' };
    if (code === 'ENOENT') {
      throw new ConfigError(
        'FILE_NOT_FOUND',
        [{ ...problem, message: `users file does not exist; create it with homing user add ADDRESS --users ${path}` }],
        { cause: error },
      );
    }
    throw new ConfigError(
      'FILE_UNREADABLE',
      [{ ...problem, message: `cannot read the users file: ${describe(error)}` }],
      {
        cause: error,
      },
    );
  }
  return parseUsers(text);
}

/** The text of a users file holding `users`, one line each. */
export function formatUsers(users: readonly User[]): string {
  const header = '# homing users: address:hash (argon2id); edit with homing user add|passwd|remove\n';
  return header + users.map((user) => `${user.address}:${user.hash}\n`).join('');
}

/**
 * Replaces the users file atomically: a temporary file in the same directory is written with mode
 * 600, fsynced and renamed over the old one, then the directory is fsynced so the rename survives a
 * crash. A reader sees the old file or the new one, never half of one.
 */
export async function writeUsersFile(path: string, users: readonly User[]): Promise<void> {
  await withLock(path, () => writeTextAtomically(path, formatUsers(users)));
}

/**
 * Sets the hash of `address` (adding its line at the end when it has none), or removes its line
 * when `hash` is undefined. Every other line is kept as it was, comments and broken lines too, so
 * an edit by `homing user` never loses what an administrator wrote. Written like writeUsersFile.
 */
export async function updateUsersFile(
  path: string,
  address: string,
  hash: string | undefined,
  options: { must?: 'exist' | 'not-exist' } = {},
): Promise<void> {
  await withLock(path, () => update(path, address, hash, options.must));
}

async function update(path: string, address: string, hash: string | undefined, must?: 'exist' | 'not-exist') {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw new ConfigError(
      'FILE_UNREADABLE',
      [{ file: path, line: 0, column: 0, path: '', message: `cannot read the users file: ${describe(error)}` }],
      { cause: error },
    );
  });
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const isFor = (line: string) => {
    const colon = line.indexOf(':');
    const parsed = colon > 0 && !line.trim().startsWith('#') ? parseAddress(line.slice(0, colon)) : undefined;
    return parsed?.ok === true && parsed.value === address;
  };
  const kept: string[] = [];
  let done = false;
  for (const line of lines) {
    if (!isFor(line)) kept.push(line);
    else if (hash !== undefined && !done) {
      kept.push(`${address}:${hash}`);
      done = true;
    }
  }
  // Checked again under the lock: another command may have changed the file since it was read.
  const exists = lines.some(isFor);
  const where = { file: path, line: 0, column: 0, path: '' };
  if (must === 'not-exist' && exists) {
    throw new ConfigError('USER_EXISTS', [{ ...where, message: `${address} already exists in the users file` }]);
  }
  if (must === 'exist' && !exists) {
    throw new ConfigError('USER_NOT_FOUND', [{ ...where, message: `no user ${address} in the users file` }]);
  }
  if (hash !== undefined && !done) kept.push(`${address}:${hash}`);
  const body = kept.join('\n');
  await writeTextAtomically(path, text === '' ? formatUsers([]) + body + '\n' : `${body}\n`);
}

/**
 * Runs `work` holding `{path}.lock` (created exclusively, holding our pid), so two `homing user`
 * commands at once never lose each other's change. A lock whose process is gone is taken over.
 */
async function withLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const file = await open(lock, 'wx', 0o600);
      await file.writeFile(String(process.pid));
      await file.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError(
          'USERS_FILE_UNWRITABLE',
          [{ file: path, line: 0, column: 0, path: '', message: `cannot lock the users file: ${describe(error)}` }],
          { cause: error },
        );
      }
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (holder > 0 && !alive(holder)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        const message = `another homing user command holds ${lock}; wait for it, or remove that file if none runs`;
        throw new ConfigError('USERS_FILE_UNWRITABLE', [{ file: path, line: 0, column: 0, path: '', message }]);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes a secret file atomically: a temporary file (mode 600) in the same directory, fsync, rename, fsync of the directory. */
export async function writeTextAtomically(path: string, text: string): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(text);
      // The mode of `open` is masked by the umask; the hashes must never be readable by others.
      await file.chmod(0o600);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    const dir = await open(directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    await rm(temporary, { force: true });
    throw new ConfigError(
      'USERS_FILE_UNWRITABLE',
      [{ file: path, line: 0, column: 0, path: '', message: `cannot write the users file: ${describe(error)}` }],
      { cause: error },
    );
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (run as the user that owns it, or as root)';
  if (code === 'EISDIR') return 'it is a directory, not a file';
  if (code === 'ENOENT') return 'its directory does not exist';
  return error instanceof Error ? error.message : String(error);
}
