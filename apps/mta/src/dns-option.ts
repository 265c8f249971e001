import { createResolver, type Resolver } from '@homing/dns';
import { type Command, Option } from 'commander';
import { usageError } from './command-error';

/** What `addDnsOption` adds to a command's parsed options. */
export interface DnsOptionValues {
  dns?: string;
}

/**
 * Adds `--dns HOST:PORT` to a command; without it, `HOMING_DNS` and then /etc/resolv.conf decide.
 * Use with `resolverFromOptions(command.opts())` in the action.
 */
export function addDnsOption(command: Command): Command {
  return command.addOption(
    new Option(
      '--dns <host:port>',
      'DNS server to ask, e.g. 127.0.0.1:5353 (default: $HOMING_DNS, else /etc/resolv.conf)',
    ),
  );
}

/** The DNS servers `--dns` or `HOMING_DNS` name (comma-separated allowed), or undefined for the system's. */
export function dnsServersFromOptions(
  options: DnsOptionValues,
  env: Record<string, string | undefined> = process.env,
): string[] | undefined {
  const given = options.dns ?? (env.HOMING_DNS?.trim() ? env.HOMING_DNS : undefined);
  if (given === undefined) return undefined;
  const source = options.dns !== undefined ? '--dns' : 'HOMING_DNS';
  const servers = given
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const server of servers) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+)(:\d{1,5})?$/.test(server)) {
      throw usageError(
        `${source} "${server}" is not HOST:PORT; give an IP address and port, e.g. --dns 127.0.0.1:5353`,
      );
    }
  }
  if (servers.length === 0) throw usageError(`${source} is empty; give HOST:PORT, e.g. --dns 127.0.0.1:5353`);
  return servers;
}

/** A `@homing/dns` resolver for a command's options: `--dns`, else `HOMING_DNS`, else the system's resolvers. */
export function resolverFromOptions(
  options: DnsOptionValues,
  env: Record<string, string | undefined> = process.env,
): Resolver {
  const servers = dnsServersFromOptions(options, env);
  try {
    return createResolver(servers === undefined ? {} : { servers });
  } catch (error) {
    throw new Error(`${(error as Error).message} (from ${options.dns !== undefined ? '--dns' : 'HOMING_DNS'})`);
  }
}
