// @homing/delivery beside Postfix (3.7, the binaries `bash .ci/install-peers.sh` unpacks) and
// nodemailer's SMTP transport (pool of 20), all three delivering the same 4 KiB messages to
// Postfix's smtp-sink on loopback over 20 connections, in one run.
// - Homing goes the whole way a delivery goes: recipient domain -> MX lookup (loopback DNS server,
//   cached by TTL) -> session pool -> per-recipient outcome.
// - Postfix relays to the sink as its relayhost (no DNS: its resolver cannot be pointed at a
//   loopback DNS server on a high port). The batch is first queued on hold through Postfix's own
//   smtpd (not timed), then released: what is timed is Postfix delivering from its queue
//   (qmgr + smtp processes), until the sink has counted every message.
// - nodemailer is pointed straight at the sink.
// Postfix runs as a throw-away instance in a temporary directory, without a postfix user or
// postdrop group (mail_owner nobody, setgid_group mail); it needs root to start.

import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createDeliveryAgent } from '@homing/delivery';
import { createResolver } from '@homing/dns';
import { startDnsServer } from '@homing/dns/testing';
import nodemailer from 'nodemailer';

const run = promisify(execFile);

interface PostfixInstance {
  /** Port of Postfix's smtpd on 127.0.0.1. */
  smtpPort: number;
  /** Messages in the hold queue. */
  held(): number;
  /** Releases every held message and asks the queue manager to deliver them now. */
  releaseAll(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Postfix relaying everything to 127.0.0.1:`relayPort` over `concurrency` connections. */
async function startPostfix(
  root: string,
  smtpPort: number,
  relayPort: number,
  concurrency: number,
): Promise<PostfixInstance> {
  if (process.getuid?.() !== 0) throw new Error('Postfix needs root to start (it drops to mail_owner itself)');
  const postfix = join(root, '.cache/postfix');
  const sbin = join(postfix, 'usr/sbin');
  const env = { ...process.env, LD_LIBRARY_PATH: join(postfix, 'usr/lib/postfix') };
  const dir = mkdtempSync(join(tmpdir(), 'homing-bench-postfix-'));
  // mkdtemp makes the directory 0700: the Postfix daemons (as nobody) must reach the queue inside.
  chmodSync(dir, 0o755);
  const etc = join(dir, 'etc');
  mkdirSync(etc);
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  chownSync(join(dir, 'data'), 65534, 65534);
  writeFileSync(
    join(etc, 'main.cf'),
    `compatibility_level = 3.6
config_directory = ${etc}
queue_directory = ${dir}/queue
data_directory = ${dir}/data
daemon_directory = ${postfix}/usr/lib/postfix/sbin
command_directory = ${sbin}
meta_directory = ${etc}
shlib_directory = ${postfix}/usr/lib/postfix
mail_owner = nobody
default_privs = daemon
setgid_group = mail
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}
maillog_file_prefixes = ${dir}
maillog_file = ${dir}/maillog
myhostname = postfix.bench.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:${relayPort}
alias_maps =
alias_database =
local_recipient_maps =
smtp_tls_security_level = none
smtpd_tls_security_level = none
default_destination_concurrency_limit = ${concurrency}
smtp_destination_concurrency_limit = ${concurrency}
initial_destination_concurrency = ${concurrency}
default_process_limit = ${concurrency * 5}
header_checks = regexp:${etc}/header_checks
biff = no
`,
  );
  writeFileSync(join(etc, 'header_checks'), '/^X-Bench-Hold:/ HOLD\n');
  // post-install (run by `postfix start`) reads the list of files it creates from meta_directory.
  copyFileSync(join(postfix, 'etc/postfix/postfix-files'), join(etc, 'postfix-files'));
  const services = [
    `127.0.0.1:${smtpPort} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  writeFileSync(join(etc, 'master.cf'), `${services.join('\n')}\n`);
  const command = (name: string, args: string[]) => run(join(sbin, name), ['-c', etc, ...args], { env });
  try {
    await command('postfix', ['start']);
  } catch (error) {
    let log = '';
    try {
      log = readFileSync(join(dir, 'maillog'), 'utf8').split('\n').slice(-5).join('\n');
    } catch {}
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postfix did not start: ${(error as Error).message}\n${log}`);
  }
  // If this process dies before stop(), do not leave a Postfix master running.
  const stopNow = () => {
    try {
      execFileSync(join(sbin, 'postfix'), ['-c', etc, 'stop'], { env, stdio: 'ignore' });
    } catch {}
  };
  process.once('exit', stopNow);
  return {
    smtpPort,
    held: () => {
      try {
        return readdirSync(join(dir, 'queue/hold')).length;
      } catch {
        return 0;
      }
    },
    releaseAll: async () => {
      await command('postsuper', ['-H', 'ALL']);
      await command('postqueue', ['-f']);
    },
    stop: async () => {
      process.off('exit', stopNow);
      await command('postfix', ['stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CONNECTIONS = 20;
const MESSAGES = 2000;
const ROUNDS = 3;
const SIZE = 4 * 1024;

const root = resolve(import.meta.dirname, '..');
const sinkPath = join(root, '.cache/postfix/usr/sbin/smtp-sink');
if (!existsSync(sinkPath)) {
  console.error(`smtp-sink is missing at ${sinkPath}: run \`bash .ci/install-peers.sh\``);
  process.exit(1);
}

// smtp-sink cannot report the port it got for :0, so take free ephemeral ports and hand them over.
const freePort = () =>
  new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
const port = await freePort();
// -c: smtp-sink prints its counters (sess= quit= mesg=) as messages arrive; Postfix is timed by them.
const sink = spawn(
  sinkPath,
  [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), '-c', '-m', '256', `127.0.0.1:${port}`, '256'],
  {
    env: { ...process.env, LD_LIBRARY_PATH: join(root, '.cache/postfix/usr/lib/postfix') },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let sunk = 0;
sink.stdout!.setEncoding('latin1').on('data', (text: string) => {
  const counts = [...text.matchAll(/mesg=(\d+)/g)];
  if (counts.length > 0) sunk = Number(counts.at(-1)![1]);
});
await new Promise((done) => setTimeout(done, 300));
const dns = await startDnsServer({
  zones: {
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], ttl: 3600 },
    'mx.example.net': { A: ['127.0.0.1'], ttl: 3600 },
  },
});
let postfix: PostfixInstance | undefined;
let postfixProblem = '';
try {
  postfix = await startPostfix(root, await freePort(), port, CONNECTIONS);
} catch (error) {
  postfixProblem = (error as Error).message;
}

const line = `${'x'.repeat(76)}\r\n`;
const body = line.repeat(Math.ceil(SIZE / line.length));
const message = Buffer.from(`From: a@example.com\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n${body}`);
// The same message, marked so that Postfix's cleanup puts it on hold until the timed release.
const heldMessage = Buffer.from(`X-Bench-Hold: 1\r\n${message.toString('latin1')}`, 'latin1');

/** Runs `send` MESSAGES times, CONNECTIONS at a time. */
async function spread(send: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < MESSAGES) await send(next++);
    }),
  );
}

async function homing(): Promise<void> {
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [dns.address] }),
    hostname: 'bench.example',
    port,
    addressPreference: 'ipv4',
    maxConnections: CONNECTIONS,
    maxConnectionsPerDomain: CONNECTIONS,
    maxMessagesPerConnection: MESSAGES,
  });
  await spread(async (index) => {
    const result = await agent.deliver({ from: 'a@example.com', to: [`r${index}@example.net`] }, message);
    if (result.recipients[0]!.status !== 'delivered') throw new Error(`not delivered: ${result.recipients[0]!.reason}`);
  });
  await agent.close();
}

async function nodemailerPool(target = port, raw = message): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: target,
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: Number.POSITIVE_INFINITY,
    ignoreTLS: true,
    name: 'bench.example',
  });
  await spread(async (index) => {
    const info = await transport.sendMail({ envelope: { from: 'a@example.com', to: [`r${index}@example.net`] }, raw });
    if (info.accepted.length !== 1) throw new Error('not accepted');
  });
  transport.close();
}

/** Queues the batch in Postfix on hold (not timed), then returns the timed part: release and wait for the sink. */
async function postfixBatch(): Promise<() => Promise<void>> {
  const instance = postfix!;
  await nodemailerPool(instance.smtpPort, heldMessage);
  const deadline = Date.now() + 60_000;
  while (instance.held() < MESSAGES) {
    if (Date.now() > deadline) throw new Error(`postfix holds ${instance.held()} of ${MESSAGES} messages`);
    await new Promise((done) => setTimeout(done, 20));
  }
  return async () => {
    const target = sunk + MESSAGES;
    await instance.releaseAll();
    const until = Date.now() + 120_000;
    while (sunk < target) {
      if (Date.now() > until) throw new Error(`postfix delivered ${MESSAGES - (target - sunk)} of ${MESSAGES}`);
      await new Promise((done) => setTimeout(done, 2));
    }
  };
}

async function measure(run: () => Promise<void>): Promise<{ rate: number; cpuMicros: number }> {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: MESSAGES / seconds, cpuMicros: (used.user + used.system) / MESSAGES };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const POSTFIX = 'Postfix 3.7 (relayhost)';
const contenders: [string, () => Promise<{ rate: number; cpuMicros: number }>][] = [
  ['@homing/delivery', () => measure(homing)],
  ['nodemailer SMTP pool (20)', () => measure(() => nodemailerPool())],
];
if (postfix !== undefined) {
  contenders.push([
    POSTFIX,
    async () => {
      const timed = await postfixBatch();
      // Postfix works in its own processes: this process's CPU time says nothing about it.
      return { ...(await measure(timed)), cpuMicros: Number.NaN };
    },
  ]);
}
const results = new Map<string, { rate: number[]; cpu: number[] }>(
  contenders.map(([name]) => [name, { rate: [], cpu: [] }]),
);
try {
  await homing(); // warm up, so JIT and the DNS cache do not count against the first round
  await nodemailerPool();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      const { rate, cpuMicros } = await run();
      results.get(name)!.rate.push(rate);
      results.get(name)!.cpu.push(cpuMicros);
    }
  }
} finally {
  await postfix?.stop();
  sink.kill('SIGTERM');
  await dns.close();
}

console.log(
  `${MESSAGES} messages of ${message.length} octets, one recipient each, to smtp-sink over ${CONNECTIONS} connections; median of ${ROUNDS} rounds\n`,
);
const reference = results.has(POSTFIX) ? POSTFIX : 'nodemailer SMTP pool (20)';
console.log(`| sender                    |  msg/s | sender CPU µs/msg | ratio to ${reference} |`);
console.log('| ------------------------- | -----: | ----------------: | ----: |');
const base = median(results.get(reference)!.rate);
for (const [name, { rate, cpu }] of results) {
  const r = median(rate);
  const c = median(cpu);
  console.log(
    `| ${name.padEnd(25)} | ${r.toFixed(0).padStart(6)} | ${(Number.isNaN(c) ? 'n/a' : c.toFixed(0)).padStart(17)} | ${(r / base).toFixed(2).padStart(5)} |`,
  );
}
if (postfix === undefined) console.log(`\nPostfix is not in this run: ${postfixProblem}`);
