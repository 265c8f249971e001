import { checkFcrdns, checkRdns } from '@homing/policy';
import type { Command } from 'commander';
import { ipArgument } from '../command-arguments';
import { addDnsOption, resolverFromOptions } from '../dns-option';

interface RdnsCommandOptions {
  json?: boolean;
  dns?: string;
}

/** Adds `homing rdns IP`: the PTR names of an address and whether one resolves back (FCrDNS). */
export function registerRdnsCommand(program: Command): void {
  const command = program
    .command('rdns')
    .description('Look up the reverse DNS names of an IP address and check that one resolves back to it (FCrDNS)')
    .argument('<ip>', 'the IP address (IPv4 or IPv6)', ipArgument)
    .option('--json', 'print one JSON object on one line');
  addDnsOption(command);
  command.action(async (ip: string, options: RdnsCommandOptions) => {
    const resolver = resolverFromOptions(options);
    const [rdns, fcrdns] = await Promise.all([checkRdns(ip, { resolver }), checkFcrdns(ip, { resolver })]);
    const summary = {
      ip: rdns.ip,
      rdns: rdns.result,
      names: rdns.names,
      fcrdns: fcrdns.result,
      confirmed: fcrdns.confirmed,
      reason: fcrdns.reason,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return;
    }
    const lines = [
      `rdns: ${rdns.result}${rdns.names.length > 0 ? ` (${rdns.names.join(', ')})` : ''}`,
      `fcrdns: ${fcrdns.result}: ${fcrdns.reason}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
