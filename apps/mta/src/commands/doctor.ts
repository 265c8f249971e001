import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ipListOption } from '../command-arguments';
import { usageError } from '../command-error';
import { loadConfig } from '../config/load-config';
import { addDnsOption, resolverFromOptions } from '../dns-option';
import { defaultSelector } from '../setup/dkim-key-path';
import { renderReport } from '../setup/doctor-report';
import { reportPasses } from '../setup/doctor-types';
import { runDoctor } from '../setup/run-doctor';
import { addDoctorSendOptions, type DoctorSendOptions, runDoctorSend } from './doctor-send';

interface DoctorOptions extends DoctorSendOptions {
  send?: string;
  config?: string;
  ip: string[];
  hostname?: string;
  selector: string;
  dnsbl?: string[];
  json?: boolean;
  dns?: string;
  ca?: string;
  mtaStsPort?: string;
}

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
];

/** Adds `homing doctor DOMAIN`: checks every record and listener, and grades against the big providers' rules. */
export function registerDoctorCommand(program: Command): void {
  const command = program
    .command('doctor')
    .description(
      'Check the DNS records, reverse DNS of each IP, TLS and blocklists of a mail domain, say exactly what to publish, and grade it against Gmail, Yahoo and Microsoft sender requirements',
    )
    .argument('[domain]', 'the mail domain, e.g. example.org (not needed with --send)')
    .option('--config <file>', 'our config (hostname, DKIM key in {state}/dkim, listeners, certificate)')
    .option(
      '--ip <address>',
      'a sending IP address (repeat for each; default: the A/AAAA of the hostname)',
      ipListOption('--ip'),
      [],
    )
    .option('--hostname <name>', 'our host name when there is no --config (default: the first MX)')
    .option('--selector <selector>', 'the DKIM selector', defaultSelector)
    .option(
      '--dnsbl <zone>',
      "a DNSBL zone to check (repeat; default: the config's, else zen.spamhaus.org, bl.spamcop.net)",
      collect,
    )
    .option('--ca <file>', 'also trust this CA certificate (PEM) for TLS and MTA-STS, e.g. a test CA')
    .option('--mta-sts-port <port>', 'port of the MTA-STS policy host (default 443), for test set-ups')
    .option('--json', 'print one JSON object: {domain, checks, providers}');
  addDnsOption(command);
  addDoctorSendOptions(command);
  command.action(async (domain: string | undefined, options: DoctorOptions) => {
    if (options.send !== undefined) {
      process.exitCode = await runDoctorSend(options.send, options);
      return;
    }
    if (domain === undefined) throw usageError('give the DOMAIN to check (or --send ADDRESS for the self-test)');
    const config = options.config ? await loadConfig(options.config) : undefined;
    const resolver = resolverFromOptions(
      options.dns === undefined && config && config.dns.length > 0 ? { dns: config.dns.join(',') } : options,
    );
    const ca = options.ca
      ? [
          await readFile(options.ca, 'utf8').catch((error: Error) => {
            throw new Error(`cannot read --ca ${options.ca}: ${error.message}`);
          }),
        ]
      : undefined;
    const port = options.mtaStsPort === undefined ? undefined : Number(options.mtaStsPort);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw usageError(`--mta-sts-port ${options.mtaStsPort} is not a port number (1-65535)`);
    }
    const report = await runDoctor({
      domain,
      resolver,
      selector: options.selector,
      ips: options.ip,
      ...(config ? { config } : {}),
      ...(options.hostname ? { hostname: options.hostname } : {}),
      ...(options.dnsbl ? { dnsblZones: options.dnsbl } : {}),
      ...(ca ? { ca } : {}),
      ...(port ? { mtaStsPort: port } : {}),
    });
    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : renderReport(report));
    if (!reportPasses(report)) process.exitCode = 1;
  });
}
