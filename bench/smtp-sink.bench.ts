// Messages per second accepted by `homing sink`, Postfix's smtp-sink and nodemailer's smtp-server
// (discarding), each driven by Postfix's smtp-source on loopback, with and without -d (several
// messages per connection). Each server runs in its own process, as smtp-sink does.
// Env: SMTP_BENCH_MESSAGES (default 20000), SMTP_BENCH_RUNS (default 3; the median is printed).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const postfix = join(root, '.cache/postfix/usr');
const env = { ...process.env, LD_LIBRARY_PATH: join(postfix, 'lib/postfix') };
const messages = Number(process.env.SMTP_BENCH_MESSAGES ?? 20000);
const runs = Number(process.env.SMTP_BENCH_RUNS ?? 3);
const sessions = 20;
const size = 10240;

for (const tool of ['smtp-source', 'smtp-sink']) {
  if (!existsSync(join(postfix, 'sbin', tool))) {
    console.error(`${tool} is missing: run bash .ci/install-peers.sh`);
    process.exit(1);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      server.close(() => resolve(address.port));
    });
  });
}

// Starts a server process and resolves once `ready` says it listens; `ready` returns the port.
function startProcess(
  command: string,
  args: string[],
  ready: (line: string) => number | null,
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${output}`)), 20_000);
    const onData = (text: Buffer) => {
      output += text.toString();
      for (const line of output.split('\n')) {
        const port = ready(line);
        if (port !== null) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          child.stderr!.resume();
          resolve({ child, port });
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (text: Buffer) => {
      output += text.toString();
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

async function waitListening(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

const SMTP_SERVER_PEER = `
import { SMTPServer } from 'smtp-server';
const server = new SMTPServer({
  disableReverseLookup: true, logger: false, authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'],
  hideSTARTTLS: true, maxClients: 1000, banner: 'bench',
  onData(stream, _session, callback) { stream.on('end', () => callback()); stream.resume(); },
});
server.listen(0, '127.0.0.1', () => console.log('port=' + server.server.address().port));
`;

type Peer = { name: string; start(): Promise<{ child: ChildProcess; port: number }> };
const peers: Peer[] = [
  {
    name: 'homing sink',
    start: () =>
      startProcess(
        process.execPath,
        [join(root, 'apps/mta/bin/homing.js'), 'sink', '--listen', '127.0.0.1:0', '--interval', '3600'],
        (line) => {
          const match = /address=127\.0\.0\.1:(\d+)/.exec(line);
          return match ? Number(match[1]) : null;
        },
      ),
  },
  {
    name: 'postfix smtp-sink',
    start: async () => {
      const port = await freePort();
      const child = spawn(join(postfix, 'sbin/smtp-sink'), ['-u', 'nobody', `127.0.0.1:${port}`, '256'], {
        env,
        stdio: 'ignore',
      });
      await waitListening(port);
      return { child, port };
    },
  },
  {
    name: 'smtp-server',
    start: () =>
      startProcess(process.execPath, ['--input-type=module', '-e', SMTP_SERVER_PEER], (line) => {
        const match = /port=(\d+)/.exec(line);
        return match ? Number(match[1]) : null;
      }),
  },
];

// CPU seconds (user + system) the server process has used so far, from /proc (Linux).
const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return Number.NaN;
  }
}

function drive(port: number, reuse: boolean, count = messages): number {
  const args = ['-s', String(sessions), '-m', String(count), '-l', String(size)];
  if (reuse) args.push('-d');
  args.push(`127.0.0.1:${port}`);
  const started = process.hrtime.bigint();
  const result = spawnSync(join(postfix, 'sbin/smtp-source'), args, { env, encoding: 'utf8', timeout: 300_000 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`smtp-source failed (${result.status}): ${result.stderr}`);
  return count / seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
// All servers run at once and the runs take turns, so that load from elsewhere on the machine
// spreads over every server rather than landing on one.
const started: { name: string; child: ChildProcess; port: number }[] = [];
const samples = new Map<string, { plain: number[]; reuse: number[] }>();
// Server CPU time per message (microseconds, user + system), per run, for the same runs.
const cpu = new Map<string, { plain: number[]; reuse: number[] }>();
try {
  for (const peer of peers) {
    const { child, port } = await peer.start();
    started.push({ name: peer.name, child, port });
    samples.set(peer.name, { plain: [], reuse: [] });
    cpu.set(peer.name, { plain: [], reuse: [] });
  }
  for (let run = 0; run < runs; run++) {
    for (const reuse of [false, true]) {
      // Each run starts with another server, and each measurement follows a short unmeasured
      // burst to the same server: the one measured first after a quiet spell (smtp-server's
      // slow new-connection run) would otherwise start on a cold CPU and a cold JIT.
      const order = [...started.slice(run % started.length), ...started.slice(0, run % started.length)];
      for (const { name, port, child } of order) {
        drive(port, reuse, Math.max(200, Math.floor(messages / 10)));
        const before = cpuSeconds(child.pid);
        samples.get(name)![reuse ? 'reuse' : 'plain'].push(drive(port, reuse));
        cpu.get(name)![reuse ? 'reuse' : 'plain'].push(((cpuSeconds(child.pid) - before) * 1e6) / messages);
      }
    }
  }
} finally {
  for (const { child } of started) child.kill('SIGKILL');
}
const results = new Map([...samples].map(([name, s]) => [name, { plain: median(s.plain), reuse: median(s.reuse) }]));

const homing = results.get('homing sink')!;
console.log(
  `smtp-source -s ${sessions} -m ${messages} -l ${size} 127.0.0.1:PORT, median of ${runs} run(s), messages per second\n`,
);
console.log('| server | msg/s (new connection each) | msg/s (-d, reused) | homing / this (new) | homing / this (-d) |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, value] of results) {
  console.log(
    `| ${name} | ${Math.round(value.plain)} | ${Math.round(value.reuse)} | ${(homing.plain / value.plain).toFixed(2)}x | ${(homing.reuse / value.reuse).toFixed(2)}x |`,
  );
}
console.log('\nServer CPU time per message (user + system, from /proc/PID/stat; median of the same runs):\n');
console.log('| server | µs/msg (new connection each) | µs/msg (-d, reused) |');
console.log('| --- | ---: | ---: |');
for (const [name, value] of cpu) {
  console.log(`| ${name} | ${Math.round(median(value.plain))} | ${Math.round(median(value.reuse))} |`);
}
console.log('\nGoal: homing >= 1.5x smtp-server and >= 0.8x smtp-sink in both modes.');
const sink = results.get('postfix smtp-sink')!;
const peer = results.get('smtp-server')!;
const checks: [string, number, number][] = [
  ['vs smtp-sink, new connection each', homing.plain / sink.plain, 0.8],
  ['vs smtp-sink, -d', homing.reuse / sink.reuse, 0.8],
  ['vs smtp-server, new connection each', homing.plain / peer.plain, 1.5],
  ['vs smtp-server, -d', homing.reuse / peer.reuse, 1.5],
];
for (const [what, ratio, goal] of checks) {
  console.log(`- ${what}: ${ratio.toFixed(2)}x (goal ${goal}x) ${ratio >= goal ? 'met' : 'NOT met'}`);
}
