// Messages per second from authenticated submission to a remote MX, through `homing start`
// (587: STARTTLS, AUTH PLAIN, sender ownership, DKIM rsa-2048 signing while spooling, fsync
// before the 250, then the outbound worker delivering to the recipient domain's MX), beside a
// throw-away Postfix 3.7 doing the same job in the same run: submission on its smtpd with
// STARTTLS and SASL AUTH through a throw-away Dovecot auth service (passwd-file), relaying to the
// same sink (its relayhost: Postfix's resolver cannot be pointed at a loopback DNS server on a
// high port). Postfix does not DKIM-sign (that would take OpenDKIM as a milter): Homing does
// more work per message than Postfix here. Both are driven by the same client (nodemailer's
// pooled SMTP transport, 20 connections, STARTTLS + AUTH once per connection, 10 KiB messages),
// and timed from the first submission until Postfix's smtp-sink has counted every message.
// Env: SUBMISSION_BENCH_MESSAGES (default 3000), SUBMISSION_BENCH_RUNS (default 3; medians),
// SUBMISSION_BENCH_CONNECTIONS (default 20), SUBMISSION_BENCH_SERVERS (default homing,postfix),
// HOMING_BENCH_NODE_OPTIONS (Node options for the homing server, e.g. --cpu-prof).
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsServer } from '@homing/dns/testing';
import { certificateFiles, freePort, type PostfixServer, startPostfix, startSmtpSink } from '@homing/test-peers';
import nodemailer from 'nodemailer';
import { hashPassword } from '../apps/mta/src/users/users-file';
import { median } from './lib/measure';
import { spawnHomingStart } from './lib/mta';

const MESSAGES = Number(process.env.SUBMISSION_BENCH_MESSAGES ?? 3000);
const RUNS = Number(process.env.SUBMISSION_BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.SUBMISSION_BENCH_CONNECTIONS ?? 20);
const SIZE = 10 * 1024;
// SUBMISSION_BENCH_SERVERS=homing runs one side only (to profile it); the ratio needs both.
const SERVERS = (process.env.SUBMISSION_BENCH_SERVERS ?? 'homing,postfix').split(',');

let sunk = 0;
const sink = await startSmtpSink(['-c', '-m', '256'], {
  backlog: 256,
  onOutput: (text) => {
    const counts = [...text.matchAll(/mesg=(\d+)/g)];
    if (counts.length > 0) sunk = Number(counts.at(-1)![1]);
  },
});
const sinkProcess = sinkPid();
const dns = await startDnsServer({
  zones: {
    test: { SOA: { mname: 'ns.test', rname: 'hostmaster.test' } },
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], ttl: 3600 },
    'mx.example.net': { A: ['127.0.0.1'], ttl: 3600 },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-submission-'));
chmodSync(dir, 0o755);
const cert = certificateFiles();

/** `homing start` with submission on 587-like port, sending to the sink as example.net's MX. */
async function startHoming(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const state = join(dir, 'state');
  writeFileSync(join(dir, 'users'), `alice@example.org:${await hashPassword('bench-password')}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'homing.yml'),
    [
      'domain: example.org',
      'hostname: mx.example.org',
      `tls: { cert: ${cert.certPath}, key: ${cert.keyPath} }`,
      `users: ${join(dir, 'users')}`,
      `state: ${state}`,
      `dns: ["${dns.address}"]`,
      `listen: { mx: [], submission: "127.0.0.1:${port}", submissions: [], metrics: [] }`,
      `remote_port: ${sink.port}`,
    ].join('\n'),
  );
  const child = await spawnHomingStart(join(dir, 'homing.yml'));
  return { child, port };
}

/** Dovecot's auth service on a loopback port, for Postfix's SASL (smtpd_sasl_type = dovecot). */
async function startDovecotAuth(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  writeFileSync(join(dir, 'passwd'), 'alice@example.org:{PLAIN}bench-password\n');
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
  return { child, port };
}

const line = `${'x'.repeat(76)}\r\n`;
const body = line.repeat(Math.ceil((SIZE - 200) / line.length));
const message = `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench\r\n\r\n${body}`;

const TICKS = 100; // USER_HZ: /proc's CPU times are in 1/100 s on Linux

/** CPU seconds of one process (its threads, and the children it reaped), from /proc/PID/stat; of its main thread alone with `mainThread`. */
function processCpu(pid: number, mainThread = false): number {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the name and state.
    return fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0) / TICKS;
  } catch {
    return 0; // it exited meanwhile: its time went to its parent's cutime
  }
}

/** CPU seconds of every process whose working directory is under `dir` (Postfix's daemons chdir to their queue). */
function cpuUnder(dir: string): number {
  let sum = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`).startsWith(dir)) sum += processCpu(Number(name));
    } catch {}
  }
  return sum;
}

/** The parent of a process, from /proc/PID/stat. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** CPU seconds of `pid` and its live children (the ones that exited are in its cutime). */
function treeCpu(pid: number): number {
  let sum = processCpu(pid);
  for (const name of readdirSync('/proc'))
    if (/^\d+$/.test(name) && parentOf(Number(name)) === pid) sum += processCpu(Number(name));
  return sum;
}

/** This process's smtp-sink child. */
function sinkPid(): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || parentOf(Number(name)) !== process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'smtp-sink') return Number(name);
    } catch {}
  }
  throw new Error('cannot find the smtp-sink process');
}

/** The throw-away Postfix's directory: the one relaying to our sink. */
function postfixDirectory(): string {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('homing-postfix-')) continue;
    try {
      const mainCf = readFileSync(join(tmpdir(), name, 'etc/main.cf'), 'utf8');
      if (mainCf.includes(`relayhost = [127.0.0.1]:${sink.port}\n`)) return join(tmpdir(), name);
    } catch {}
  }
  throw new Error('cannot find the Postfix directory');
}

/** Submits MESSAGES through `port` over CONNECTIONS pooled sessions; resolves once the sink has them all. */
async function submit(
  port: number,
  count: number,
  serverCpu: () => [total: number, mainThread: number],
): Promise<{
  delivered: number;
  accepted: number;
  clientMs: number;
  serverMs: number;
  mainThreadMs: number;
  peersMs: number[];
}> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    auth: { user: 'alice@example.org', pass: 'bench-password' },
    tls: { rejectUnauthorized: false },
    pool: true,
    maxConnections: CONNECTIONS,
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
  const target = sunk + count;
  const clientBefore = process.cpuUsage();
  const serverBefore = serverCpu();
  const peersBefore = [treeCpu(sinkProcess), treeCpu(dovecot.child.pid!)];
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
  const serverMs = ((serverAfter[0] - serverBefore[0]) * 1000) / count;
  const mainThreadMs = ((serverAfter[1] - serverBefore[1]) * 1000) / count;
  const peersMs = [treeCpu(sinkProcess), treeCpu(dovecot.child.pid!)].map(
    (cpu, index) => ((cpu - peersBefore[index]!) * 1000) / count,
  );
  transport.close();
  // The client's figure includes the loopback DNS server (it lives in this process), a few lookups.
  const clientMs = (client.user + client.system) / 1000 / count;
  return { delivered: count / seconds, accepted: count / acceptedSeconds, clientMs, serverMs, mainThreadMs, peersMs };
}

const homing = await startHoming();
const dovecot = await startDovecotAuth();
let postfix: PostfixServer | undefined;
let postfixDir = '';
const samples = { homing: [] as number[], postfix: [] as number[] };
const acceptedSamples = { homing: [] as number[], postfix: [] as number[] };
// CPU milliseconds per message: the driving client (this process) and the server's processes.
const clientCpu = { homing: [] as number[], postfix: [] as number[] };
const serverCpuSamples = { homing: [] as number[], postfix: [] as number[] };
// The same for the peers both share: smtp-sink, and Dovecot's auth (which only Postfix uses).
// Homing's main thread alone: what its event loop spends per message (the rest is the thread pool and the kernel).
const mainThreadCpu = { homing: [] as number[], postfix: [] as number[] };
const sinkCpu = { homing: [] as number[], postfix: [] as number[] };
const dovecotCpu = { homing: [] as number[], postfix: [] as number[] };
try {
  postfix = await startPostfix({
    tls: { key: cert.key, cert: cert.cert },
    relayPort: sink.port,
    concurrency: CONNECTIONS,
    hold: '/^X-Never-Held:/',
    hostname: 'postfix.bench.example',
    mainCf: [
      'mynetworks =',
      'smtpd_relay_restrictions = permit_sasl_authenticated, reject',
      'smtpd_recipient_restrictions = permit_sasl_authenticated, reject',
      'smtpd_sasl_auth_enable = yes',
      'smtpd_sasl_type = dovecot',
      `smtpd_sasl_path = inet:127.0.0.1:${dovecot.port}`,
      'smtpd_tls_auth_only = yes',
      `default_process_limit = ${CONNECTIONS * 5}`,
    ],
  });
  postfixDir = postfixDirectory();
  for (let run = 0; run < RUNS; run++) {
    // The two take turns going first; each measurement follows an unmeasured burst.
    const order = run % 2 === 0 ? (['homing', 'postfix'] as const) : (['postfix', 'homing'] as const);
    for (const name of order) {
      if (!SERVERS.includes(name)) continue;
      const port = name === 'homing' ? homing.port : postfix.port;
      const cpu =
        name === 'homing'
          ? (): [number, number] => [processCpu(homing.child.pid!), processCpu(homing.child.pid!, true)]
          : (): [number, number] => [cpuUnder(postfixDir), Number.NaN];
      await submit(port, Math.max(100, Math.floor(MESSAGES / 10)), cpu);
      const measured = await submit(port, MESSAGES, cpu);
      samples[name].push(measured.delivered);
      acceptedSamples[name].push(measured.accepted);
      clientCpu[name].push(measured.clientMs);
      serverCpuSamples[name].push(measured.serverMs);
      mainThreadCpu[name].push(measured.mainThreadMs);
      sinkCpu[name].push(measured.peersMs[0]!);
      dovecotCpu[name].push(measured.peersMs[1]!);
    }
  }
} finally {
  homing.child.kill('SIGTERM');
  await postfix?.stop();
  dovecot.child.kill('SIGTERM');
  await sink.stop();
  await dns.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  rmSync(dir, { recursive: true, force: true });
  rmSync(cert.dir, { recursive: true, force: true });
}
const h = median(samples.homing);
const p = median(samples.postfix);
console.log(
  `${MESSAGES} messages of ${SIZE / 1024} KiB, ${CONNECTIONS} pooled connections (STARTTLS + AUTH PLAIN once each), median of ${RUNS} run(s), timed until smtp-sink counted them all\n`,
);
const cpuOf = (values: number[]) => (values.length === 0 ? 'NaN' : median(values).toFixed(2));
console.log(
  '| server | msg/s submitted and delivered | runs | msg/s accepted (all 250s) | server CPU ms/msg | client CPU ms/msg |',
);
console.log('| --- | ---: | --- | ---: | ---: | ---: |');
console.log(
  `| homing start (DKIM rsa-2048, fsync before 250, outbound worker via MX lookup) | ${Math.round(h)} | ${samples.homing.map(Math.round).join(', ')} | ${Math.round(median(acceptedSamples.homing))} | ${cpuOf(serverCpuSamples.homing)} | ${cpuOf(clientCpu.homing)} |`,
);
console.log(
  `| Postfix 3.7 (SASL via Dovecot, no DKIM, relayhost) | ${Math.round(p)} | ${samples.postfix.map(Math.round).join(', ')} | ${Math.round(median(acceptedSamples.postfix))} | ${cpuOf(serverCpuSamples.postfix)} | ${cpuOf(clientCpu.postfix)} |`,
);
console.log(`- homing's main thread alone: ${cpuOf(mainThreadCpu.homing)} CPU ms per message`);
console.log(
  `- CPU ms per message of the peers, during homing's runs / Postfix's: smtp-sink ${cpuOf(sinkCpu.homing)} / ${cpuOf(sinkCpu.postfix)}, Dovecot ${cpuOf(dovecotCpu.homing)} / ${cpuOf(dovecotCpu.postfix)}`,
);
const ratio = h / p;
console.log(`- homing / Postfix: ${ratio.toFixed(2)}x (goal 2x) ${ratio >= 2 ? 'met' : 'NOT met'}`);
