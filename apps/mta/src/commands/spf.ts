import { checkSpf, isPolicyError } from '@homing/policy';
import type { Command } from 'commander';
import { ipOption } from '../command-arguments';
import { usageError } from '../command-error';
import { addDnsOption, resolverFromOptions } from '../dns-option';

interface SpfCommandOptions {
  ip: string;
  sender: string;
  helo?: string;
  json?: boolean;
  dns?: string;
}

/** Adds `homing spf --ip IP --sender ADDR [--helo NAME]`: an RFC 7208 SPF evaluation. */
export function registerSpfCommand(program: Command): void {
  const command = program
    .command('spf')
    .description('Evaluate the SPF policy (RFC 7208) of a sender for a client IP address')
    .requiredOption('--ip <address>', 'the client IP address (IPv4 or IPv6)', ipOption('--ip'))
    .requiredOption('--sender <address>', 'the MAIL FROM address; "" for the null sender (the HELO name is checked)')
    .option('--helo <name>', "the HELO/EHLO name (default: the sender's domain)")
    .option('--json', 'print one JSON object on one line');
  addDnsOption(command);
  command.action(async (options: SpfCommandOptions) => {
    const sender = options.sender.trim();
    const helo = options.helo ?? sender.slice(sender.lastIndexOf('@') + 1);
    if (helo === '') throw usageError('the null sender needs --helo NAME: the HELO identity is what is checked then');
    const resolver = resolverFromOptions(options);
    const result = await checkSpf({ ip: options.ip, helo, sender }, { resolver }).catch((error: unknown) => {
      if (isPolicyError(error, 'BAD_INPUT')) throw usageError(`${error.message}; check --sender and --helo`);
      throw error;
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const lines = [`${result.result}: ${result.reason}`, `  identity: ${result.identity} ${result.sender}`];
    if (result.record) lines.push(`  record: ${result.record}`);
    if (result.explanation) lines.push(`  explanation: ${result.explanation}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
