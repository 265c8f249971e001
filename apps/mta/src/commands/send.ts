import { hostname } from 'node:os';
import { createDeliveryAgent, createMtaStsSource, type RecipientOutcome, type Smarthost } from '@homing/delivery';
import { type Command, Option } from 'commander';
import { addDnsOption, resolverFromOptions } from '../dns-option';

interface SendCommandOptions {
  from: string;
  to: string[];
  smarthost?: string;
  smarthostUser?: string;
  mxPort: string;
  hostname?: string;
  timeout: string;
  json?: boolean;
  dns?: string;
}

// sysexits.h EX_TEMPFAIL: the caller may try again later.
const EXIT_DEFERRED = 75;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function port(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 65535) {
    throw new Error(`${flag} "${text}" is not a port; give a number from 1 to 65535, e.g. ${flag} 2525`);
  }
  return value;
}

function smarthostOf(options: SendCommandOptions, env: NodeJS.ProcessEnv): Smarthost | undefined {
  if (options.smarthost === undefined) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d+))?$/.exec(options.smarthost);
  if (match === null)
    throw new Error(`--smarthost "${options.smarthost}" is not HOST[:PORT], e.g. relay.example.net:587`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const smarthost: Smarthost = {
    host,
    ...(match[2] === undefined ? {} : { port: port(match[2], '--smarthost port') }),
  };
  if (options.smarthostUser !== undefined) {
    const pass = env.HOMING_SMARTHOST_PASSWORD;
    if (!pass) throw new Error('--smarthost-user needs the password in HOMING_SMARTHOST_PASSWORD');
    smarthost.auth = { user: options.smarthostUser, pass };
  }
  return smarthost;
}

function checkAddress(address: string, flag: string): void {
  if (/[\r\n<>\s]/.test(address) || !/^[^@]+@[^@]+$/.test(address.replace(/^".*"@/, 'q@'))) {
    throw new Error(`${flag} "${address}" is not an address of the form local@domain`);
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Adds `homing send`: delivers a message from stdin to its recipients' MX hosts (or a smarthost). */
export function registerSendCommand(program: Command): void {
  const command = program
    .command('send')
    .description(
      "Deliver a message read from stdin to the recipients' MX hosts (or through a smarthost) and print each " +
        "recipient's outcome. Exit code 0: all delivered; 75: some deferred (try later); 1: some failed",
    )
    .requiredOption('--from <address>', 'the envelope sender (MAIL FROM); "" for the null sender')
    .requiredOption('--to <address>', 'a recipient (RCPT TO); repeat for more', collect)
    .option(
      '--smarthost <host[:port]>',
      'relay everything through this host (port 587 by default); STARTTLS required with --smarthost-user',
    )
    .option('--smarthost-user <name>', 'AUTH user at the smarthost; the password comes from HOMING_SMARTHOST_PASSWORD')
    .addOption(new Option('--mx-port <port>', 'port of the MX hosts').default('25'))
    .option('--hostname <name>', 'our EHLO name (default: this machine)')
    .addOption(new Option('--timeout <seconds>', 'connect and per-command timeout').default('60'))
    .option('--json', 'print one JSON object on one line: { recipients: [{ address, status, reply }] }');
  addDnsOption(command);
  command.action(async (options: SendCommandOptions) => {
    if (options.from !== '') checkAddress(options.from, '--from');
    for (const to of options.to) checkAddress(to, '--to');
    const mxPort = port(options.mxPort, '--mx-port');
    const seconds = Number(options.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new Error(`--timeout "${options.timeout}" is not a number of seconds, e.g. --timeout 30`);
    }
    const smarthost = smarthostOf(options, process.env);
    if (process.stdin.isTTY)
      throw new Error('give the message on stdin, e.g. homing send --from a@b --to c@d < message.eml');
    const message = await readStdin();
    if (message.length === 0) throw new Error('the message on stdin is empty; pipe a whole message (headers and body)');
    const ms = Math.round(seconds * 1000);
    const resolver = resolverFromOptions(options);
    const agent = createDeliveryAgent({
      resolver,
      mtaSts: createMtaStsSource({ resolver }),
      hostname: options.hostname ?? hostname(),
      port: mxPort,
      ...(smarthost === undefined ? {} : { smarthost }),
      timeouts: {
        connectMs: ms,
        greetingMs: ms,
        commandMs: ms,
        mailMs: ms,
        rcptMs: ms,
        dataStartMs: ms,
        dataBlockMs: ms,
        dataEndMs: ms,
      },
    });
    let outcomes: RecipientOutcome[];
    try {
      outcomes = (await agent.deliver({ from: options.from, to: options.to }, message)).recipients;
    } finally {
      await agent.close();
    }
    if (options.json) {
      const recipients = outcomes.map((outcome) => ({
        address: outcome.recipient,
        status: outcome.status,
        reply: outcome.reply,
      }));
      process.stdout.write(`${JSON.stringify({ recipients })}\n`);
    } else {
      for (const outcome of outcomes) {
        const via = outcome.mx === undefined ? '' : ` (${outcome.mx})`;
        process.stdout.write(`${outcome.recipient}: ${outcome.status}${via}: ${outcome.reply}\n`);
      }
    }
    if (outcomes.some((outcome) => outcome.status === 'failed')) process.exitCode = 1;
    else if (outcomes.some((outcome) => outcome.status === 'deferred')) process.exitCode = EXIT_DEFERRED;
  });
}
