// Messages per second from authenticated submission to a remote MX, through `homing start`
// (587: STARTTLS, AUTH PLAIN, sender ownership, DKIM rsa-2048 signing while spooling, fsync
// before the 250, then the outbound worker delivering to the recipient domain's MX), beside a
// throw-away Postfix 3.7 doing the same job in the same run: submission on its smtpd with
// STARTTLS and SASL AUTH through a throw-away Dovecot auth service (passwd-file), DKIM rsa-2048
// signing through a throw-away OpenDKIM 2.11 milter (the same key, selector, canonicalization and
// header list as homing; milter_default_action = tempfail, so an unsigned message is never
// counted), relaying to the same sink (its relayhost: Postfix's resolver cannot be pointed at a
// loopback DNS server on a high port). The old comparison, Postfix without OpenDKIM, runs as a
// third, labelled row. All are driven by the same client (nodemailer's pooled SMTP transport, 20
// connections, STARTTLS + AUTH once per connection, 10 KiB messages), and timed from the first
// submission until Postfix's smtp-sink has counted every message. After each measured run one
// more message goes to a capturing receiver, and dkimpy verifies its signature (or, for the
// unsigned row, sees none): a side that silently stopped signing fails the benchmark.
// Env: SUBMISSION_BENCH_MESSAGES (default 3000), SUBMISSION_BENCH_RUNS (default 3; medians),
// SUBMISSION_BENCH_CONNECTIONS (default 20), SUBMISSION_BENCH_SERVERS (default
// homing,postfix,postfix-unsigned), HOMING_BENCH_NODE_OPTIONS (Node options for the homing
// server, e.g. --cpu-prof).
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeKey } from '@homing/dkim';
import { startDnsServer } from '@homing/dns/testing';
import { certificateFiles, freePort, type PostfixServer, startPostfix, startSmtpSink } from '@homing/test-peers';
import nodemailer from 'nodemailer';
import { childNamed, cpuOfProcessesIn, processTreeCpu, withChildrenCpu } from './lib/cpu';
import { dkimpyVerify, dkimSignatures, dkimTag, startCapture } from './lib/dkim-check';
import { median } from './lib/measure';
import { startHomingProcess } from './lib/mta';
import { requireOpenDkim, startOpenDkim } from './lib/opendkim';

const MESSAGES = Number(process.env.SUBMISSION_BENCH_MESSAGES ?? 3000);
const RUNS = Number(process.env.SUBMISSION_BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.SUBMISSION_BENCH_CONNECTIONS ?? 20);
const SIZE = 10 * 1024;
const PASSWORD = 'bench-password';
const SELECTOR = 'bench';
type Server = 'homing' | 'postfix' | 'postfix-unsigned';
const ALL: Server[] = ['homing', 'postfix', 'postfix-unsigned'];
// SUBMISSION_BENCH_SERVERS=homing runs one side only (to profile it); the ratios need the others.
const SERVERS = (process.env.SUBMISSION_BENCH_SERVERS ?? ALL.join(',')).split(',') as Server[];
for (const name of SERVERS) if (!ALL.includes(name)) throw new Error(`SUBMISSION_BENCH_SERVERS: no server ${name}`);
if (SERVERS.includes('postfix')) {
  try {
    requireOpenDkim();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
console.log(
  `load average before: ${loadavg()
    .map((value) => value.toFixed(2))
    .join(', ')}`,
);

let sunk = 0;
const sink = await startSmtpSink(['-c', '-m', '256'], {
  backlog: 256,
  onOutput: (text) => {
    const counts = [...text.matchAll(/mesg=(\d+)/g)];
    if (counts.length > 0) sunk = Number(counts.at(-1)![1]);
  },
});
const sinkProcess = childNamed('smtp-sink');
// The check messages go to dkim-check.example.net, whose MX is this receiver (homing: through the
// DNS on remote_port, the sink's port; Postfix: its transport map).
const capture = await startCapture('127.0.0.2', sink.port);
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-submission-'));
chmodSync(dir, 0o755);
// One RSA-2048 key for both signers, published at bench._domainkey.example.org.
const keyFile = join(dir, 'dkim.key');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs1' }), { mode: 0o600 });
const dns = await startDnsServer({
  zones: {
    test: { SOA: { mname: 'ns.test', rname: 'hostmaster.test' } },
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], ttl: 3600 },
    'mx.example.net': { A: ['127.0.0.1'], ttl: 3600 },
    'dkim-check.example.net': { MX: [{ priority: 10, exchange: 'mx.dkim-check.example.net' }] },
    'mx.dkim-check.example.net': { A: ['127.0.0.2'] },
    [`${SELECTOR}._domainkey.example.org`]: { TXT: [describeKey(privateKey).recordStrings] },
  },
});
const cert = certificateFiles();

/** Dovecot's auth service on a loopback port, for Postfix's SASL (smtpd_sasl_type = dovecot). */
async function startDovecotAuth(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  writeFileSync(join(dir, 'passwd'), `alice@example.org:{PLAIN}${PASSWORD}\n`);
  writeFileSync(
    join(dir, 'dovecot.conf'),
    [
      'protocols =',
      'listen = 127.0.0.1',
      `base_dir = ${dir}/dovecot-run`,
      `state_dir = ${dir}/dovecot-run`,
      'log_path = /dev/stderr',
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${dir}/passwd\n}`,
      'userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=/nonexistent\n}',
      `service auth {\n  inet_listener {\n    address = 127.0.0.1\n    port = ${port}\n  }\n}`,
      '',
    ].join('\n'),
  );
  const child = spawn('dovecot', ['-c', join(dir, 'dovecot.conf'), '-F'], { stdio: ['ignore', 'ignore', 'inherit'] });
  child.once('error', (error) => {
    console.error(`cannot run Dovecot (Debian dovecot-core; \`sudo bash .ci/install-peers.sh\`): ${error.message}`);
    process.exit(1);
  });
  return { child, port };
}

/** A throw-away Postfix relaying to the sink, SASL through Dovecot; signing through the milter at `milterPort` when given. */
async function startBenchPostfix(
  hostname: string,
  milterPort?: number,
): Promise<{ server: PostfixServer; dir: string }> {
  const server = await startPostfix({
    tls: { key: cert.key, cert: cert.cert },
    relayPort: sink.port,
    concurrency: CONNECTIONS,
    hold: '/^X-Never-Held:/',
    hostname,
    mainCf: [
      'mynetworks =',
      'smtpd_relay_restrictions = permit_sasl_authenticated, reject',
      'smtpd_recipient_restrictions = permit_sasl_authenticated, reject',
      'smtpd_sasl_auth_enable = yes',
      'smtpd_sasl_type = dovecot',
      `smtpd_sasl_path = inet:127.0.0.1:${dovecot.port}`,
      'smtpd_tls_auth_only = yes',
      `default_process_limit = ${CONNECTIONS * 5}`,
      `transport_maps = inline:{ { dkim-check.example.net = smtp:[127.0.0.2]:${sink.port} } }`,
      ...(milterPort === undefined
        ? []
        : [
            `smtpd_milters = inet:127.0.0.1:${milterPort}`,
            // A milter that fails makes smtpd answer 4xx: no message is ever counted unsigned.
            'milter_default_action = tempfail',
            'milter_protocol = 6',
          ]),
    ],
  });
  // The Postfix directory is the one whose main.cf names this hostname (its daemons chdir there).
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('homing-postfix-')) continue;
    try {
      if (readFileSync(join(tmpdir(), name, 'etc/main.cf'), 'utf8').includes(`myhostname = ${hostname}\n`))
        return { server, dir: join(tmpdir(), name) };
    } catch {}
  }
  throw new Error(`cannot find the directory of the Postfix named ${hostname}`);
}

const line = `${'x'.repeat(76)}\r\n`;
const body = line.repeat(Math.ceil((SIZE - 200) / line.length));
const message = `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench\r\n\r\n${body}`;

/** nodemailer's pooled transport to `port`: STARTTLS required, AUTH PLAIN once per connection. */
function transportTo(port: number, connections: number) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    auth: { user: 'alice@example.org', pass: PASSWORD },
    tls: { rejectUnauthorized: false },
    pool: true,
    maxConnections: connections,
    maxMessages: Number.POSITIVE_INFINITY,
    // nodemailer leaves Nagle on, and writes a command, a body and its end-of-data in separate
    // writes: each message then waits for the server's delayed ACK (40 ms on Linux), the same for
    // both servers, so a pool of 20 was held near 20 / 45 ms whatever the server. The client's
    // socket with TCP_NODELAY (as the servers' own) takes that wait out of the measurement.
    getSocket: (
      _options: unknown,
      callback: (error: Error | null, socket?: { connection: import('node:net').Socket }) => void,
    ) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      socket.once('error', (error) => callback(error));
      socket.once('connect', () => callback(null, { connection: socket }));
    },
  } as Parameters<typeof nodemailer.createTransport>[0]);
}

interface Measured {
  delivered: number;
  accepted: number;
  clientMs: number;
  serverMs: number;
  mainThreadMs: number;
  peersMs: Record<'sink' | 'dovecot' | 'opendkim', number>;
}

/** Submits `count` messages through `port` over CONNECTIONS pooled sessions; resolves once the sink has them all. */
async function submit(
  port: number,
  count: number,
  serverCpu: () => [total: number, mainThread: number],
): Promise<Measured> {
  const transport = transportTo(port, CONNECTIONS);
  const peers = () => ({
    sink: withChildrenCpu(sinkProcess),
    dovecot: withChildrenCpu(dovecot.child.pid!),
    opendkim: opendkim === undefined ? 0 : withChildrenCpu(opendkim.child.pid!),
  });
  const target = sunk + count;
  const clientBefore = process.cpuUsage();
  const serverBefore = serverCpu();
  const peersBefore = peers();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) {
        next++;
        await transport.sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.net'] }, raw: message });
      }
    }),
  );
  const acceptedSeconds = (performance.now() - started) / 1000;
  const deadline = Date.now() + 300_000;
  while (sunk < target) {
    if (Date.now() > deadline) throw new Error(`the sink has ${sunk} of ${target} messages`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = serverCpu();
  const peersAfter = peers();
  transport.close();
  const perMessage = (before: number, after: number) => ((after - before) * 1000) / count;
  return {
    delivered: count / seconds,
    accepted: count / acceptedSeconds,
    // The client's figure includes the loopback DNS server (it lives in this process), a few lookups.
    clientMs: (client.user + client.system) / 1000 / count,
    serverMs: perMessage(serverBefore[0], serverAfter[0]),
    mainThreadMs: perMessage(serverBefore[1], serverAfter[1]),
    peersMs: {
      sink: perMessage(peersBefore.sink, peersAfter.sink),
      dovecot: perMessage(peersBefore.dovecot, peersAfter.dovecot),
      opendkim: perMessage(peersBefore.opendkim, peersAfter.opendkim),
    },
  };
}

/**
 * Sends one message like the measured ones to dkim-check.example.net and checks what arrives: a
 * DKIM-Signature of example.org that dkimpy verifies, or (`signed` false) none. Gives h= and c=.
 */
async function checkSignature(name: Server, port: number, signed: boolean): Promise<string> {
  const before = capture.messages.length;
  const transport = transportTo(port, 1);
  await transport.sendMail({
    envelope: { from: 'alice@example.org', to: ['bob@dkim-check.example.net'] },
    raw: message,
  });
  transport.close();
  const deadline = Date.now() + 30_000;
  while (capture.messages.length === before) {
    if (Date.now() > deadline) throw new Error(`${name}: the check message did not arrive within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const received = capture.messages[before]!;
  const signatures = dkimSignatures(received);
  if (!signed) {
    if (signatures.length > 0) throw new Error(`${name} signed, though it should not: ${signatures[0]}`);
    return 'no DKIM-Signature';
  }
  if (signatures.length !== 1) throw new Error(`${name}: ${signatures.length} DKIM-Signature fields, not 1`);
  const signature = signatures[0]!;
  if (dkimTag(signature, 'd') !== 'example.org') throw new Error(`${name}: not signed by example.org: ${signature}`);
  const verified = await dkimpyVerify(dns.address, received);
  if (!verified.ok) throw new Error(`${name}: dkimpy did not verify its signature: ${verified.error}`);
  return `verified by dkimpy, c=${dkimTag(signature, 'c')}, h=${dkimTag(signature, 'h')}`;
}

mkdirSync(join(dir, 'homing'));
const homing = await startHomingProcess(join(dir, 'homing'), dns.address, {
  listener: 'submission',
  password: PASSWORD,
  extra: [`remote_port: ${sink.port}`, `dkim: { selector: ${SELECTOR}, key: ${keyFile} }`],
});
const dovecot = await startDovecotAuth();
const opendkim = SERVERS.includes('postfix')
  ? await startOpenDkim({ dir: join(dir, 'opendkim'), domain: 'example.org', selector: SELECTOR, keyFile })
  : undefined;
const postfixes: { server: PostfixServer; dir: string }[] = [];
const results = Object.fromEntries(ALL.map((name) => [name, [] as Measured[]])) as Record<Server, Measured[]>;
const checks: Partial<Record<Server, string>> = {};
try {
  const signed = opendkim && (await startBenchPostfix('postfix-dkim.bench.example', opendkim.port));
  const unsigned = SERVERS.includes('postfix-unsigned') ? await startBenchPostfix('postfix.bench.example') : undefined;
  postfixes.push(...[signed, unsigned].filter((postfix) => postfix !== undefined));
  const sides: Record<Server, { port: number; cpu: () => [number, number] } | undefined> = {
    homing: {
      port: homing.port,
      cpu: () => [processTreeCpu(homing.child.pid!), processTreeCpu(homing.child.pid!, true)],
    },
    // Postfix's signing is OpenDKIM's work: its CPU counts with Postfix's (homing signs in-process).
    postfix: signed && {
      port: signed.server.port,
      cpu: () => [cpuOfProcessesIn(signed.dir) + withChildrenCpu(opendkim!.child.pid!), Number.NaN],
    },
    'postfix-unsigned': unsigned && {
      port: unsigned.server.port,
      cpu: () => [cpuOfProcessesIn(unsigned.dir), Number.NaN],
    },
  };
  const order = ALL.filter((name) => SERVERS.includes(name));
  for (let run = 0; run < RUNS; run++) {
    // The servers take turns going first; each measurement follows an unmeasured burst.
    for (const name of [...order.slice(run % order.length), ...order.slice(0, run % order.length)]) {
      const side = sides[name]!;
      await submit(side.port, Math.max(100, Math.floor(MESSAGES / 10)), side.cpu);
      results[name].push(await submit(side.port, MESSAGES, side.cpu));
      checks[name] = await checkSignature(name, side.port, name !== 'postfix-unsigned');
    }
  }
} finally {
  homing.child.kill('SIGTERM');
  for (const postfix of postfixes) await postfix.server.stop();
  opendkim?.child.kill('SIGTERM');
  dovecot.child.kill('SIGTERM');
  await capture.close();
  await sink.stop();
  await dns.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  rmSync(dir, { recursive: true, force: true });
  for (const path of [cert.dir, homing.certDir]) rmSync(path, { recursive: true, force: true });
}

const medianOf = (name: Server, pick: (measured: Measured) => number) =>
  results[name].length === 0 ? Number.NaN : median(results[name].map(pick));
const fixed = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(2));
console.log(
  `\n${MESSAGES} messages of ${SIZE / 1024} KiB, ${CONNECTIONS} pooled connections (STARTTLS + AUTH PLAIN once each), median of ${RUNS} run(s), timed until smtp-sink counted them all\n`,
);
console.log(
  '| server | msg/s submitted and delivered | runs | msg/s accepted (all 250s) | server CPU ms/msg | client CPU ms/msg |',
);
console.log('| --- | ---: | --- | ---: | ---: | ---: |');
const labels: Record<Server, string> = {
  homing: 'homing start (DKIM rsa-2048 in-process, fsync before 250, outbound worker via MX lookup)',
  postfix: 'Postfix 3.7 + OpenDKIM 2.11 milter (SASL via Dovecot, DKIM rsa-2048, relayhost)',
  'postfix-unsigned': 'extra row, the old comparison: Postfix 3.7 WITHOUT DKIM (SASL via Dovecot, relayhost)',
};
for (const name of ALL) {
  if (results[name].length === 0) continue;
  console.log(
    `| ${labels[name]} | ${Math.round(medianOf(name, (m) => m.delivered))} | ${results[name].map((m) => Math.round(m.delivered)).join(', ')} | ${Math.round(medianOf(name, (m) => m.accepted))} | ${fixed(medianOf(name, (m) => m.serverMs))} | ${fixed(medianOf(name, (m) => m.clientMs))} |`,
  );
}
console.log(`- homing's main thread alone: ${fixed(medianOf('homing', (m) => m.mainThreadMs))} CPU ms per message`);
console.log(
  `- of Postfix + OpenDKIM's CPU, OpenDKIM's: ${fixed(medianOf('postfix', (m) => m.peersMs.opendkim))} ms per message`,
);
console.log(
  `- CPU ms per message of the shared peers, during homing's / Postfix + OpenDKIM's / unsigned Postfix's runs: smtp-sink ${ALL.map((name) => fixed(medianOf(name, (m) => m.peersMs.sink))).join(' / ')}, Dovecot ${ALL.map((name) => fixed(medianOf(name, (m) => m.peersMs.dovecot))).join(' / ')}`,
);
for (const name of ALL) if (checks[name]) console.log(`- ${name}'s last check message: ${checks[name]}`);
const rate = (name: Server) => medianOf(name, (m) => m.delivered);
const ratio = rate('homing') / rate('postfix');
console.log(
  `- homing / (Postfix + OpenDKIM), both signing: ${fixed(ratio)}x (goal 2x) ${ratio >= 2 ? 'met' : 'NOT met'}`,
);
console.log(
  `- homing / unsigned Postfix (the old, unequal comparison): ${fixed(rate('homing') / rate('postfix-unsigned'))}x`,
);
console.log(
  `load average after: ${loadavg()
    .map((value) => value.toFixed(2))
    .join(', ')}`,
);
