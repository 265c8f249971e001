// Messages per second accepted and durably queued by `homing start` (every message fsynced
// before its 250, the default filters on, DNS from a loopback server, local delivery running),
// beside a throw-away Postfix 3.7 accepting the same load into its own queue (hold), in the same
// run; both driven by Postfix's smtp-source on loopback, with a new connection per message and with -d.
// Env: MTA_BENCH_MESSAGES (default 20000), MTA_BENCH_RUNS (default 3; the median is printed).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDnsServer } from '@homing/dns/testing';
import { certificateFiles, freePort, startPostfix } from '@homing/test-peers';
import { hashPassword } from '../apps/mta/src/users/users-file';
import { median } from './lib/measure';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const postfixUsr = join(root, '.cache/postfix/usr');
const env = { ...process.env, LD_LIBRARY_PATH: join(postfixUsr, 'lib/postfix') };
const messages = Number(process.env.MTA_BENCH_MESSAGES ?? 20000);
const runs = Number(process.env.MTA_BENCH_RUNS ?? 3);
const sessions = 20;
const size = 10240;

function drive(port: number, reuse: boolean, count = messages): number {
  const args = ['-s', String(sessions), '-m', String(count), '-l', String(size), '-M', 'mail.sender.test'];
  args.push('-f', 'someone@sender.test', '-t', 'alice@example.org');
  if (reuse) args.push('-d');
  args.push(`127.0.0.1:${port}`);
  const started = process.hrtime.bigint();
  const result = spawnSync(join(postfixUsr, 'sbin/smtp-source'), args, { env, encoding: 'utf8', timeout: 600_000 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`smtp-source failed (${result.status}): ${result.stderr}`);
  return count / seconds;
}

async function startHoming(dir: string, dnsAddress: string): Promise<{ child: ChildProcess; port: number }> {
  const cert = certificateFiles();
  const port = await freePort();
  writeFileSync(join(dir, 'users'), `alice@example.org:${await hashPassword('bench')}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'homing.yml'),
    [
      'domain: example.org',
      'hostname: mx.example.org',
      `tls: { cert: ${cert.certPath}, key: ${cert.keyPath} }`,
      `users: ${join(dir, 'users')}`,
      `state: ${join(dir, 'state')}`,
      `dns: ["${dnsAddress}"]`,
      `listen: { mx: "127.0.0.1:${port}", submission: [], submissions: [], metrics: [] }`,
      'limits: { connections: 2000, connections_per_ip: 1000 }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [join(root, 'apps/mta/bin/homing.js'), 'start', '--config', join(dir, 'homing.yml')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (/ server started /.test(seen)) {
        child.stdout!.off('data', onData);
        // Keep reading the log (one line per event) so the server never blocks on a full pipe.
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`homing start exited with ${code}: ${seen}`)));
  });
  return { child, port };
}

const dns = await startDnsServer({
  zones: {
    '1.0.0.127.in-addr.arpa': { PTR: ['mail.sender.test'] },
    'mail.sender.test': { A: ['127.0.0.1'] },
    'sender.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
    'example.org': { MX: [{ priority: 10, exchange: 'mx.example.org' }] },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-mta-'));
const homing = await startHoming(dir, dns.address);
const postfix = await startPostfix({ hostname: 'mx.postfix.test' });
const samples = { homing: { plain: [] as number[], reuse: [] as number[] }, postfix: { plain: [] as number[], reuse: [] as number[] } };
try {
  for (let run = 0; run < runs; run++) {
    for (const reuse of [false, true]) {
      const order = run % 2 === 0 ? (['homing', 'postfix'] as const) : (['postfix', 'homing'] as const);
      for (const name of order) {
        const port = name === 'homing' ? homing.port : postfix.port;
        drive(port, reuse, Math.max(200, Math.floor(messages / 10)));
        samples[name][reuse ? 'reuse' : 'plain'].push(drive(port, reuse));
      }
    }
  }
} finally {
  homing.child.kill('SIGTERM');
  await postfix.stop();
  await dns.close();
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
const h = { plain: median(samples.homing.plain), reuse: median(samples.homing.reuse) };
const p = { plain: median(samples.postfix.plain), reuse: median(samples.postfix.reuse) };
console.log(`smtp-source -s ${sessions} -m ${messages} -l ${size}, median of ${runs} run(s), messages per second accepted and queued\n`);
console.log('| server | msg/s (new connection each) | msg/s (-d, reused) |');
console.log('| --- | ---: | ---: |');
console.log(`| homing start (fsync before 250, default filters, local delivery running) | ${Math.round(h.plain)} | ${Math.round(h.reuse)} |`);
console.log(`| Postfix 3.7 (into its hold queue) | ${Math.round(p.plain)} | ${Math.round(p.reuse)} |`);
console.log(`\nhoming / Postfix: ${(h.plain / p.plain).toFixed(2)}x (new connection), ${(h.reuse / p.reuse).toFixed(2)}x (-d)`);
console.log('Goal: at least 4x Postfix accepting.');
for (const [what, ratio] of [
  ['new connection each', h.plain / p.plain],
  ['-d', h.reuse / p.reuse],
] as const) {
  console.log(`- ${what}: ${ratio.toFixed(2)}x (goal 4x) ${ratio >= 4 ? 'met' : 'NOT met'}`);
}
