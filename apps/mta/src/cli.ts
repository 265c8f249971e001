import { Command, CommanderError } from 'commander';
import { registerAcmeCommand } from './commands/acme';
import { registerAuthCommand } from './commands/auth';
import { registerConfigCommand } from './commands/config';
import { registerDkimCommand } from './commands/dkim';
import { registerDnsCommand } from './commands/dns';
import { registerDnsblCommand } from './commands/dnsbl';
import { registerDoctorCommand } from './commands/doctor';
import { registerQueueCommand } from './commands/queue';
import { registerQuickstartCommand } from './commands/quickstart';
import { registerRdnsCommand } from './commands/rdns';
import { registerReloadCommand } from './commands/reload';
import { registerSendCommand } from './commands/send';
import { registerSinkCommand } from './commands/sink';
import { registerSpfCommand } from './commands/spf';
import { registerStartCommand } from './commands/start';
import { registerUserCommand } from './commands/user';

/** Builds the `homing` program with every subcommand registered. */
export function createProgram(): Command {
  const program = new Command('homing')
    .description('Homing: a mail server that is easy to run, and every mail library capability from the shell')
    .showHelpAfterError('(run with --help for usage)')
    // Every error the command line finds is said as "homing: ..." like the commands' own errors.
    // Set before the commands are registered, since subcommands copy these settings when created.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'homing: ')) })
    .exitOverride();
  // Each command lives in its own file under src/commands/ and registers itself here, one line each.
  registerStartCommand(program);
  registerConfigCommand(program);
  registerUserCommand(program);
  registerDnsCommand(program);
  registerDkimCommand(program);
  registerSpfCommand(program);
  registerRdnsCommand(program);
  registerDnsblCommand(program);
  registerAuthCommand(program);
  registerQueueCommand(program);
  registerReloadCommand(program);
  registerSendCommand(program);
  registerSinkCommand(program);
  registerDoctorCommand(program);
  registerQuickstartCommand(program);
  registerAcmeCommand(program);
  return program;
}

/** Runs the `homing` command line with `argv` (as in `process.argv`) and resolves to the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
}
