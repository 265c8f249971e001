import { realpathSync } from 'node:fs';
import type { Command } from 'commander';
import { ipListOption } from '../command-arguments';
import { addDnsOption, resolverFromOptions } from '../dns-option';
import { defaultSelector } from '../setup/dkim-key-path';
import { defaultDnsblZones } from '../setup/dnsbl-check';
import { runQuickstart } from '../setup/run-quickstart';

interface QuickstartOptions {
  hostname?: string;
  ip: string[];
  dir: string;
  state?: string;
  cert?: string;
  key?: string;
  selector: string;
  dns?: string;
}

/** The command that runs this homing, for the systemd unit: node and the script, absolute. */
function homingCommand(): string {
  const script = process.argv[1] ? realpathSync(process.argv[1]) : 'homing';
  return `${process.execPath} ${script}`;
}

/** Adds `homing quickstart ADDRESS`: writes a config, users file, DKIM key and systemd unit, and prints every record to publish. */
export function registerQuickstartCommand(program: Command): void {
  const command = program
    .command('quickstart')
    .description(
      'Set up a new mail domain: write the config, the users file with ADDRESS, the DKIM key and a systemd unit, and print every DNS record to publish',
    )
    .argument('<address>', 'your first mail address, e.g. you@example.org (its domain is the mail domain)')
    .option('--hostname <name>', "this server's host name, the MX (default: mail.DOMAIN)")
    .option('--ip <address>', "this server's public IP address (repeat for IPv4 and IPv6)", ipListOption('--ip'), [])
    .option('--dir <dir>', 'where to write homing.yml, users and contrib/systemd/homing.service', '.')
    .option('--state <dir>', 'the state directory: queue, mail, DKIM keys (default: DIR/state)')
    .option(
      '--cert <file>',
      'an existing certificate (PEM, full chain) for the hostname (default: a self-signed placeholder)',
    )
    .option('--key <file>', "that certificate's private key (PEM)")
    .option('--selector <selector>', 'the DKIM selector', defaultSelector);
  addDnsOption(command);
  command.action(async (address: string, options: QuickstartOptions) => {
    const result = await runQuickstart({
      address,
      ips: options.ip,
      dir: options.dir,
      selector: options.selector,
      dnsblZones: defaultDnsblZones,
      resolver: resolverFromOptions(options),
      command: homingCommand(),
      ...(options.hostname ? { hostname: options.hostname } : {}),
      ...(options.state ? { state: options.state } : {}),
      ...(options.cert ? { cert: options.cert } : {}),
      ...(options.key ? { key: options.key } : {}),
    });
    const out: string[] = [];
    if (result.warnings.length > 0) {
      out.push('Before you start (checks that need no published record yet):');
      for (const check of result.warnings) {
        out.push(`  warning: ${check.name}${check.ip ? ` ${check.ip}` : ''}: ${check.message}`);
      }
      out.push('');
    }
    out.push(
      `Wrote ${result.configPath}, ${result.usersPath} and ${result.unitPath}.`,
      `DKIM key: ${result.keyPath} (keep it secret; the record is beside it as .txt).`,
      '',
      `Your password for ${address} (shown once, not stored anywhere readable; change it with homing user passwd):`,
      `  ${result.password}`,
      '',
    );
    if (result.selfSigned) {
      out.push(
        `The certificate ${result.certPath} is a self-signed placeholder so that the server runs now; senders that`,
        'check (MTA-STS) refuse it: get one from a CA for the hostname and mta-sts.DOMAIN, and point tls: at it.',
        '',
      );
    }
    out.push('Publish these DNS records (zone-file syntax; a DNS panel asks for name, type and value):', '');
    out.push(result.records);
    out.push(
      `Serve ${result.policyPath} at https://mta-sts.${address.slice(address.lastIndexOf('@') + 1)}/.well-known/mta-sts.txt:`,
      ...result.policy
        .trimEnd()
        .split('\n')
        .map((line) => `  ${line}`),
      '',
      'Run it as a service (as root):',
      '  useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin homing',
      `  chown -R homing:homing ${result.usersPath} ${result.state}${result.selfSigned ? ` ${result.tlsKeyPath}` : ''}`,
      ...(result.selfSigned
        ? []
        : [`  setfacl -m u:homing:r ${result.tlsKeyPath}   # or another way to let the homing user read the key`]),
      `  cp ${result.unitPath} /etc/systemd/system/homing.service`,
      '  systemctl daemon-reload && systemctl enable --now homing',
      '',
      `Then check everything: homing doctor ${address.slice(address.lastIndexOf('@') + 1)} --config ${result.configPath}`,
      '',
    );
    process.stdout.write(out.join('\n'));
  });
}
