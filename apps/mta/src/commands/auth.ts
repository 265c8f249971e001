import { hostname } from 'node:os';
import { authenticate, isPolicyError } from '@homing/policy';
import type { Command } from 'commander';
import { ipOption, readMessageFromStdin } from '../command-arguments';
import { usageError } from '../command-error';
import { addDnsOption, resolverFromOptions } from '../dns-option';

interface AuthCommandOptions {
  ip: string;
  helo: string;
  sender: string;
  hostname?: string;
  json?: boolean;
  dns?: string;
}

/** Adds `homing auth`: SPF, DKIM, ARC and DMARC for a message on stdin, printed as Authentication-Results. */
export function registerAuthCommand(program: Command): void {
  const command = program
    .command('auth')
    .description(
      'Authenticate a message read from stdin (SPF, DKIM, ARC, DMARC) and print its Authentication-Results header',
    )
    .requiredOption('--ip <address>', 'the client IP address the message came from', ipOption('--ip'))
    .requiredOption('--helo <name>', 'the HELO/EHLO name the client gave')
    .requiredOption('--sender <address>', 'the MAIL FROM address ("" for the null sender)')
    .option('--hostname <name>', 'our host name, the authserv-id of the header (default: this machine)')
    .option('--json', 'print one JSON object on one line');
  addDnsOption(command);
  command.action(async (options: AuthCommandOptions) => {
    const message = await readMessageFromStdin('homing auth ... < message.eml');
    const resolver = resolverFromOptions(options);
    const result = await authenticate(
      {
        ip: options.ip,
        helo: options.helo,
        sender: options.sender,
        message,
        hostname: options.hostname ?? hostname(),
      },
      { resolver },
    ).catch((error: unknown) => {
      if (isPolicyError(error, 'BAD_INPUT')) throw usageError(`${error.message}; check --helo and --hostname`);
      throw error;
    });
    if (options.json) {
      const summary = {
        header: result.header,
        spf: result.spf.result,
        dkim: result.dkim,
        arc: result.arc,
        dmarc: result.dmarc ?? null,
      };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return;
    }
    process.stdout.write(`${result.header}\r\n`);
  });
}
