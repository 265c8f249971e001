import { isIP } from 'node:net';
import type { Answer, Resolver } from '@homing/dns';
import { readZoneFiles, startDnsServer } from '@homing/dns/testing';
import type { Command } from 'commander';
import { usageError } from '../command-error';
import { addDnsOption, type DnsOptionValues, resolverFromOptions } from '../dns-option';

const LOOKUPS: Record<string, (resolver: Resolver, name: string) => Promise<Answer<unknown>>> = {
  A: (resolver, name) => resolver.resolveA(name),
  AAAA: (resolver, name) => resolver.resolveAaaa(name),
  MX: (resolver, name) => resolver.resolveMx(name),
  TXT: (resolver, name) => resolver.resolveTxt(name),
  PTR: (resolver, name) => (isIP(name) ? resolver.reverse(name) : resolver.resolvePtr(name)),
  CNAME: (resolver, name) => resolver.resolveCname(name),
  TLSA: (resolver, name) => resolver.resolveTlsa(name),
};

/** Registers `homing dns serve` (a DNS server from zone files) and `homing dns lookup`. */
export function registerDnsCommand(program: Command): void {
  const dns = program.command('dns').description('DNS: serve zone files on loopback for tests, look names up');

  dns
    .command('serve')
    .description('answer DNS queries (UDP and TCP) from RFC 1035 zone files, until SIGINT or SIGTERM')
    .argument('<zonefile...>', 'master-format zone files ($ORIGIN, $TTL, A, AAAA, MX, TXT, PTR, CNAME, TLSA, SOA)')
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:5353')
    .action(async (files: string[], options: { listen: string }) => {
      const { host, port } = parseListen(options.listen);
      const zones = await readZoneFiles(files).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; fix the zone file and run again`);
      });
      const server = await startDnsServer({ zones, host, port }).catch((error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'the address is in use' : (error.code ?? error.message);
        throw new Error(`cannot listen on ${options.listen}: ${why}; pick another --listen address`);
      });
      // Handlers first: whoever reads the line below may send a signal at once.
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const names = Object.keys(zones).length;
      process.stdout.write(
        `homing dns: listening on ${server.address} (udp, tcp); ${names} names from ${files.join(', ')}\n`,
      );
      const signal = await stopped;
      await server.close();
      process.stdout.write(`homing dns: stopped on ${signal} after ${server.queries.length} queries\n`);
    });

  addDnsOption(
    dns
      .command('lookup')
      .description('look a name up and print its records with their TTL, or the kind of failure')
      .argument('<name>', 'the name to look up (an IP address for PTR)')
      .argument('[type]', `record type: ${Object.keys(LOOKUPS).join(', ')}`, 'A')
      .option('--json', 'print the answer (or failure) as JSON'),
  ).action(async (name: string, type: string, options: DnsOptionValues & { json?: boolean }) => {
    const lookup = LOOKUPS[type.toUpperCase()];
    if (lookup === undefined)
      throw usageError(`unknown record type "${type}"; use one of ${Object.keys(LOOKUPS).join(', ')}`);
    const resolver = resolverFromOptions(options);
    // A failure (NXDOMAIN, NODATA: exit 3; SERVFAIL, TIMEOUT: 75; a malformed name: 2) is thrown
    // to cli.ts, which prints it, as JSON with --json.
    const answer = await lookup(resolver, name);
    const records = answer.records.map((record) => printable(record));
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...answer, type: type.toUpperCase(), records })}\n`);
    } else {
      for (const record of records) {
        process.stdout.write(
          `${name}\t${answer.ttl}\t${type.toUpperCase()}\t${typeof record === 'string' ? record : JSON.stringify(record)}\n`,
        );
      }
    }
  });
}

/** TLSA data as hex, so that records print and serialise readably. */
function printable(record: unknown): unknown {
  if (typeof record === 'object' && record !== null && 'data' in record && record.data instanceof Uint8Array) {
    return { ...record, data: Buffer.from(record.data).toString('hex') };
  }
  return record;
}

function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || isIP(host) === 0 || !(port >= 0 && port <= 65535)) {
    throw usageError(`--listen "${text}" is not HOST:PORT; give an IP address and port, e.g. --listen 127.0.0.1:5353`);
  }
  return { host, port };
}
