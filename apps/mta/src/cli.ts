import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError, EXIT } from './command-error';
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

/** The version of this package (apps/mta/package.json, one level above src/ and dist/). */
export function homingVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** Builds the `homing` program with every subcommand registered; `json` errors are left for run() to print. */
export function createProgram(options: { json?: boolean; onError?: () => void } = {}): Command {
  const program = new Command('homing')
    .description('Homing: a mail server that is easy to run, and every mail library capability from the shell')
    .version(homingVersion(), '-V, --version', 'print the version of homing and exit')
    .showHelpAfterError(options.json ? false : '(run with --help for usage)')
    // Every error the command line finds is said as "homing: ..." like the commands' own errors
    // (with --json, run() prints it as JSON instead). Set before the commands are registered,
    // since subcommands copy these settings when created.
    .configureOutput({
      outputError: (text, write) => {
        options.onError?.();
        if (!options.json) write(text.replace(/^error: /, 'homing: '));
      },
    })
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

/** True when the command line asks for JSON output (`--json` before any `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs the `homing` command line with `argv` (as in `process.argv`) and resolves to the exit code
 * (the table in command-error.ts). Every error ends here: printed once, as `homing: message` on
 * stderr, or with --json as {"error":{"code","message"}} on stdout.
 */
export async function run(argv: readonly string[]): Promise<number> {
  const json = wantsJson(argv.slice(2));
  // A reader that went away (`homing queue list | head -1`) ends the command quietly, not with EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.failure);
    throw error;
  });
  let printed = false;
  const program = createProgram({
    json,
    onError: () => {
      printed = true;
    },
  });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    const report = describeError(error);
    if (report.exitCode === EXIT.ok) return EXIT.ok;
    // Commander printed its own usage errors already (unless --json), and the help it shows when a
    // subcommand is missing.
    const code = (error as { code?: unknown }).code;
    if (code === 'commander.help' && !json) printed = true;
    if (json) {
      process.stdout.write(`${JSON.stringify({ error: { code: report.code, message: report.message } })}\n`);
    } else if (!printed) {
      process.stderr.write(report.verbatim ? `${report.message}\n` : `homing: ${report.message}\n`);
    }
    return report.exitCode;
  }
}
