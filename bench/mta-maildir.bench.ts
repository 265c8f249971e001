// Messages per second from SMTP accept to the file in the Maildir: `homing start` (accept, queue,
// local delivery, each step fsynced) beside a throw-away Postfix 3.7 delivering to a Maildir through
// its local(8), same load (smtp-source -s 20 -l 10240 -d), same run. The clock stops when the last
// message's file is in new/.
// Beside each rate: the CPU µs per message of the server's processes (accept, queue and delivery
// together) and of smtp-source, and the machine's idle share, from the start to the last file.
// Env: MTA_BENCH_MESSAGES (default 20000), MTA_BENCH_RUNS (default 3; the median is printed).
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostfix } from '@homing/test-peers';
import { type CpuFigures, processCpuSeconds, treeCpuSeconds, withCpuFigures } from './lib/cpu';
import { median } from './lib/measure';
import { root, smtpSource, startBenchDns, startHomingProcess } from './lib/mta';

const messages = Number(process.env.MTA_BENCH_MESSAGES ?? 20000);
const runs = Number(process.env.MTA_BENCH_RUNS ?? 3);
const load = { sessions: 20, size: 10240, reuse: true };

function count(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

/** Drives `messages` into a server, then waits until `newDir` holds `target` files. */
async function toMaildir(port: number, newDir: string, target: number): Promise<number> {
  const started = performance.now();
  await smtpSource(port, { ...load, messages });
  const deadline = Date.now() + 600_000;
  while (count(newDir) < target) {
    if (Date.now() > deadline) throw new Error(`only ${count(newDir)} of ${target} files reached ${newDir}`);
    // Not more often: each look reads a directory of thousands of names, CPU the servers' share of
    // the two cores would lose (50 ms is under 1% of a run of 5000 messages).
    await new Promise((r) => setTimeout(r, 50));
  }
  return messages / ((performance.now() - started) / 1000);
}

const dns = await startBenchDns();
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-maildir-'));
// Postfix's local(8) runs as the daemon user: it must reach the Maildir below this directory.
chmodSync(dir, 0o755);
const homing = await startHomingProcess(dir, dns.address, {
  extra: ['limits: { connections: 2000, connections_per_ip: 1000 }'],
});
const homingNew = join(homing.state, 'mail/example.org/alice/new');
// Postfix's local(8) writes aliases' files as default_privs (daemon, uid 1).
const postfixMaildir = join(dir, 'postfix-maildir');
for (const sub of ['', 'new', 'cur', 'tmp']) mkdirSync(join(postfixMaildir, sub), { recursive: true });
for (const sub of ['', 'new', 'cur', 'tmp']) chownSync(join(postfixMaildir, sub), 1, 1);
const postfix = await startPostfix({
  hostname: 'mx.postfix.test',
  localDelivery: { domain: 'example.org', maildirs: { alice: postfixMaildir } },
});
const postfixNew = join(postfixMaildir, 'new');
const samples = { homing: [] as number[], postfix: [] as number[] };
const cpuSamples = { homing: [] as CpuFigures[], postfix: [] as CpuFigures[] };
const homingPid = homing.child.pid as number;
const postfixDaemons = join(root, '.cache/postfix/usr/lib/postfix');
try {
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? (['homing', 'postfix'] as const) : (['postfix', 'homing'] as const);
    for (const name of order) {
      const [port, newDir] = name === 'homing' ? [homing.port, homingNew] : [postfix.port, postfixNew];
      const cpuOf = name === 'homing' ? () => processCpuSeconds(homingPid) : () => treeCpuSeconds(postfixDaemons);
      const measured = await withCpuFigures(messages, cpuOf, () => toMaildir(port, newDir, count(newDir) + messages));
      samples[name].push(measured.result);
      cpuSamples[name].push(measured.cpu);
    }
  }
} finally {
  homing.child.kill('SIGTERM');
  await postfix.stop();
  await dns.close();
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
const h = median(samples.homing);
const p = median(samples.postfix);
console.log(
  `smtp-source -s ${load.sessions} -m ${messages} -l ${load.size} -d, median of ${runs} run(s), messages per second until the last file is in new/\n`,
);
console.log('| server | msg/s SMTP accept to Maildir file |');
console.log('| --- | ---: |');
console.log(`| homing start (queue + local delivery, fsynced) | ${Math.round(h)} |`);
console.log(`| Postfix 3.7 (smtpd, cleanup, qmgr, local(8) to Maildir) | ${Math.round(p)} |`);
console.log(`- homing / Postfix: ${(h / p).toFixed(2)}x (goal 3x) ${h / p >= 3 ? 'met' : 'NOT met'}`);
console.log('\n| server | server CPU µs/msg | smtp-source CPU µs/msg | cores idle |');
console.log('| --- | ---: | ---: | ---: |');
for (const name of ['homing', 'postfix'] as const) {
  const list = cpuSamples[name];
  const [server, source, idle] = [
    median(list.map((c) => c.serverMicros)),
    median(list.map((c) => c.sourceMicros)),
    median(list.map((c) => c.idle)),
  ];
  console.log(`| ${name} | ${Math.round(server)} | ${Math.round(source)} | ${Math.round(idle * 100)}% |`);
}
