import type { Command } from 'commander';
import { notFoundError, usageError } from '../command-error';
import { parseAddress } from '../config/config-values';
import { defaultConfigFile } from '../config/load-config';
import { readUsersSetting } from '../config/users-path';
import { hashPassword } from '../users/password-hash';
import { newPassword } from '../users/password-input';
import { readUsersFile, type User, updateUsersFile } from '../users/users-file';

interface UserFlags {
  users?: string;
  config?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

const reloadHint = 'a running server reads it on reload (homing reload, or kill -HUP)';

function withFileOptions(command: Command): Command {
  return command
    .option('--users <file>', 'the users file (default: the users: of --config)')
    .option('--config <file>', `the config whose users: file to use (default ${defaultConfigFile})`);
}

/** The users file to edit and, when it comes from a config, the domains a user must be in. */
async function target(flags: UserFlags): Promise<{ path: string; domains: string[]; users: User[] }> {
  const setting =
    flags.users !== undefined
      ? { users: flags.users, domains: [] }
      : await readUsersSetting(flags.config ?? defaultConfigFile);
  const read = await readUsersFile(setting.users).catch((error: { code?: string }) => {
    if (error.code === 'FILE_NOT_FOUND') return { users: [], problems: [] };
    throw error;
  });
  for (const problem of read.problems) {
    process.stderr.write(`homing: warning: ${setting.users}:${problem.line}: ${problem.message}\n`);
  }
  return { path: setting.users, domains: setting.domains, users: read.users };
}

function address(text: string, domains: string[]): string {
  const parsed = parseAddress(text);
  if (!parsed.ok)
    throw usageError(`${parsed.message.replace(/; e\.g\. .*$/, '')}; give an address such as alice@example.org`);
  const domain = parsed.value.slice(parsed.value.lastIndexOf('@') + 1);
  if (domains.length > 0 && !domains.includes(domain)) {
    throw new Error(
      `${parsed.value} is not in the config's domains (${domains.join(', ')}); add ${domain} to domains: first`,
    );
  }
  return parsed.value;
}

/** Adds `homing user add|passwd|remove|list` on the users file. */
export function registerUserCommand(program: Command): void {
  const user = program
    .command('user')
    .description('Manage the users file (address:argon2id-hash lines)')
    .addHelpText('after', `\nThe users file is rewritten atomically with mode 600; ${reloadHint}.`);

  withFileOptions(
    user
      .command('add')
      .argument('<address>', 'the new user, e.g. alice@example.org')
      .description('Add a user; asks for the password twice without echo'),
  )
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (text: string, flags: UserFlags) => {
      const file = await target(flags);
      const name = address(text, file.domains);
      if (file.users.some((u) => u.address === name)) {
        throw new Error(`${name} already exists in ${file.path}; change its password with homing user passwd ${name}`);
      }
      const password = await newPassword(flags);
      await updateUsersFile(file.path, name, await hashPassword(password), { must: 'not-exist' });
      process.stdout.write(`added ${name} to ${file.path}; ${reloadHint}\n`);
    });

  withFileOptions(
    user
      .command('passwd')
      .argument('<address>', 'the user')
      .description("Change a user's password; asks twice without echo"),
  )
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (text: string, flags: UserFlags) => {
      const file = await target(flags);
      const name = address(text, []);
      if (!file.users.some((u) => u.address === name)) {
        throw notFoundError(`no user ${name} in ${file.path} (see homing user list; add one with homing user add)`);
      }
      const password = await newPassword(flags);
      await updateUsersFile(file.path, name, await hashPassword(password), { must: 'exist' });
      process.stdout.write(`changed the password of ${name} in ${file.path}; ${reloadHint}\n`);
    });

  withFileOptions(user.command('remove').argument('<address>', 'the user').description('Remove a user')).action(
    async (text: string, flags: UserFlags) => {
      const file = await target(flags);
      const name = address(text, []);
      if (!file.users.some((u) => u.address === name)) {
        throw notFoundError(`no user ${name} in ${file.path} (see homing user list)`);
      }
      await updateUsersFile(file.path, name, undefined, { must: 'exist' });
      process.stdout.write(`removed ${name} from ${file.path}; ${reloadHint}\n`);
    },
  );

  withFileOptions(user.command('list').description('List the users, one address per line'))
    .option('--json', 'print {"users":[{"address"}]} on one line')
    .action(async (flags: UserFlags) => {
      const file = await target(flags);
      const addresses = file.users.map((u) => u.address);
      if (flags.json) process.stdout.write(`${JSON.stringify({ users: addresses.map((a) => ({ address: a })) })}\n`);
      else process.stdout.write(addresses.length === 0 ? `no users in ${file.path}\n` : `${addresses.join('\n')}\n`);
    });
}
