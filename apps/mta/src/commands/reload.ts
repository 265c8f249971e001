import type { Command } from 'commander';
import { EXIT, notFoundError } from '../command-error';
import { defaultConfigFile } from '../config/load-config';
import { callControl } from '../server/control/control-client';
import { isControlError } from '../server/control/control-error';
import { locateServer } from '../server/control/locate-server';

/** Exit code when no server runs: like `homing config check` for a missing file, distinct from a refused reload (1). */
export const EXIT_NOT_RUNNING = EXIT.notFound;

/** Adds `homing reload`: the running server re-reads its config and certificates (as on SIGHUP). */
export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description('Make the running server re-read its config and certificates, without dropping sessions')
    .option('--config <file>', `the server's config, to find its control socket (default ${defaultConfigFile})`)
    .option('--json', 'print one JSON object on one line')
    .action(async (options: { config?: string; json?: boolean }) => {
      const file = options.config ?? defaultConfigFile;
      // A config with errors still names the socket: the server then refuses it and says why.
      const { control } = await locateServer(file);
      try {
        // Reading certificates and the users file can take a moment; a minute is plenty.
        await callControl(control, 'reload', {}, { timeoutMs: 60_000 });
      } catch (error) {
        if (isControlError(error, 'NOT_RUNNING')) {
          throw notFoundError(
            `no server is running: nothing answers on its control socket ${control} (start it with homing start --config ${file})`,
            'NOT_RUNNING',
          );
        }
        if (isControlError(error, 'RELOAD_FAILED')) {
          throw new Error(`the server refused the new config and keeps running on the old one:\n${error.message}`);
        }
        throw error;
      }
      process.stdout.write(
        options.json ? `${JSON.stringify({ reloaded: true })}\n` : `the server reloaded ${file} and its certificates\n`,
      );
    });
}
