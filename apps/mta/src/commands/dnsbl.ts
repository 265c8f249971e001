import { checkDnsbl, isPolicyError } from '@homing/policy';
import type { Command } from 'commander';
import { ipArgument } from '../command-arguments';
import { usageError } from '../command-error';
import { addDnsOption, resolverFromOptions } from '../dns-option';

interface DnsblCommandOptions {
  zone: string[];
  json?: boolean;
  dns?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((part) => part.trim())];
}

/** Adds `homing dnsbl IP --zone Z`: DNS blocklist lookups (RFC 5782). */
export function registerDnsblCommand(program: Command): void {
  const command = program
    .command('dnsbl')
    .description('Check whether DNS blocklists (RFC 5782) list an IP address')
    .argument('<ip>', 'the IP address (IPv4 or IPv6)', ipArgument)
    .requiredOption(
      '--zone <zone>',
      'a DNSBL zone, e.g. zen.spamhaus.org (repeat or comma-separate for several)',
      collect,
    )
    .option('--json', 'print one JSON object on one line');
  addDnsOption(command);
  command.action(async (ip: string, options: DnsblCommandOptions) => {
    const resolver = resolverFromOptions(options);
    const result = await checkDnsbl(ip, options.zone, { resolver }).catch((error: unknown) => {
      // The address was checked already: what is left is a malformed --zone.
      if (isPolicyError(error, 'BAD_INPUT')) throw usageError(`--zone: ${error.message}`);
      throw error;
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const lines = [`${result.ip}: ${result.listed ? 'listed' : 'not listed'}`];
    for (const zone of result.zones) {
      const detail =
        zone.status === 'listed'
          ? zone.codes.map((code) => `${code.code} ${code.meaning}`).join('; ') +
            (zone.reason ? ` (${zone.reason})` : '')
          : (zone.error ?? '');
      lines.push(`  ${zone.zone}: ${zone.status}${detail ? `: ${detail}` : ''}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
