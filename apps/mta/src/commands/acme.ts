import type { Command } from 'commander';
import { defaultConfigFile } from '../config/load-config';
import { callControl } from '../server/control/control-client';
import { isControlError } from '../server/control/control-error';
import { locateServer } from '../server/control/locate-server';
import { EXIT_NOT_RUNNING } from './reload';

/** Adds `homing acme renew` and `homing acme status`: the running server's ACME certificate. */
export function registerAcmeCommand(program: Command): void {
  const acme = program.command('acme').description("The running server's certificate by ACME (tls.acme)");
  const call = async (command: string, args: Record<string, unknown>, options: { config?: string; json?: boolean }) => {
    const file = options.config ?? defaultConfigFile;
    const { control } = await locateServer(file);
    let result: { issued: boolean; reason?: string; names: string[]; notAfter: string };
    try {
      // An order waits on the CA's validation; a few minutes is what a slow CA takes.
      result = (await callControl(control, command, args, { timeoutMs: 300_000 })) as typeof result;
    } catch (error) {
      if (isControlError(error, 'NOT_RUNNING')) {
        process.stderr.write(`homing: no server is running: nothing answers on its control socket ${control}\n`);
        process.exitCode = EXIT_NOT_RUNNING;
        return;
      }
      if (isControlError(error, 'UNKNOWN_COMMAND')) {
        throw new Error(`the server on ${control} does not use ACME (its config has no tls.acme)`);
      }
      throw error;
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const what = result.issued ? `issued a new certificate (${result.reason})` : 'keeps its certificate';
    process.stdout.write(`the server ${what} for ${result.names.join(', ')}, valid until ${result.notAfter}\n`);
  };
  acme
    .command('renew')
    .description('Obtain a new certificate now and serve it from the next connection on, without a restart')
    .option('--config <file>', `the server's config, to find its control socket (default ${defaultConfigFile})`)
    .option('--json', 'print one JSON object on one line')
    .action((options: { config?: string; json?: boolean }) => call('acme.renew', { force: true }, options));
  acme
    .command('status')
    .description('Say which names the certificate covers and until when (renews first if it is due)')
    .option('--config <file>', `the server's config, to find its control socket (default ${defaultConfigFile})`)
    .option('--json', 'print one JSON object on one line')
    .action((options: { config?: string; json?: boolean }) => call('acme.status', {}, options));
}
