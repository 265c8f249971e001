import { type Command, CommanderError } from 'commander';
import { usageError } from '../command-error';
import { configToKeys, formatConfigYaml } from '../config/config-text';
import type { Config } from '../config/config-types';
import { configWarnings } from '../config/config-warnings';
import { defaultConfigFile, loadConfig } from '../config/load-config';

interface ConfigFlags {
  config?: string;
  json?: boolean;
}

/** Exit codes of `homing config check|show`, as the README documents them (those of every command). */
export const configExitCodes = { ok: 0, invalid: 1, usage: 2, missing: 3 } as const;

function fileOf(file: string | undefined, flags: ConfigFlags): string {
  if (file !== undefined && flags.config !== undefined && file !== flags.config) {
    throw usageError('give the config file once, as FILE or as --config FILE');
  }
  return file ?? flags.config ?? defaultConfigFile;
}

/**
 * Loads the config. A ConfigError goes to cli.ts, which prints every problem (one per line) and
 * exits 3 for a missing file, 1 for an invalid one (as JSON with --json).
 */
async function load(file: string): Promise<Config> {
  return loadConfig(file);
}

/** Adds `homing config check [FILE]` and `homing config show [FILE] [--json]`. */
export function registerConfigCommand(program: Command): void {
  const config = program
    .command('config')
    .description('Check or show the config of homing start')
    .addHelpText(
      'after',
      `\nExit codes: 0 valid, 1 invalid (every problem printed as file:line:column: key: message), 2 usage error, 3 no such file.`,
    )
    // Usage errors exit 2 here, so a script can tell them from an invalid config (1).
    .exitOverride((error) => {
      throw error.exitCode === 0 ? error : new CommanderError(configExitCodes.usage, error.code, error.message);
    });

  config
    .command('check')
    .argument('[file]', `the config file (default ${defaultConfigFile})`)
    .option('--config <file>', 'the config file (same as FILE)')
    .description('Validate the config: prints FILE: ok, or every problem with its line and column')
    .action(async (file: string | undefined, flags: ConfigFlags) => {
      const path = fileOf(file, flags);
      const loaded = await load(path);
      for (const warning of await configWarnings(loaded)) {
        const where = warning.line > 0 ? `${warning.file}:${warning.line}` : warning.file;
        process.stderr.write(
          `${where}: warning: ${warning.path === '' ? '' : `${warning.path}: `}${warning.message}\n`,
        );
      }
      process.stdout.write(`${path}: ok\n`);
    });

  config
    .command('show')
    .argument('[file]', `the config file (default ${defaultConfigFile})`)
    .option('--config <file>', 'the config file (same as FILE)')
    .option('--json', 'print the same keys as one JSON object on one line')
    .description('Print the effective config with every default filled in (like postconf -n)')
    .action(async (file: string | undefined, flags: ConfigFlags) => {
      const path = fileOf(file, flags);
      const loaded = await load(path);
      process.stdout.write(flags.json ? `${JSON.stringify(configToKeys(loaded))}\n` : formatConfigYaml(loaded));
    });
}
