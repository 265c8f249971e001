// Messages per second accepted and durably queued by `homing start` (every message fsynced
// before its 250, the default filters on, DNS from a loopback server, local delivery running),
// beside a throw-away Postfix 3.7 in the same run, both driven by Postfix's smtp-source on
// loopback, a new connection per message and with -d. Postfix twice: accepting into its hold
// queue (what the issue names), and accepting while its local(8) delivers each message to a
// Maildir, which is the work homing start does meanwhile (its local delivery cannot be held), so
// the second ratio compares the same work with the same durability (each queue file and each
// Maildir file fsynced).
// Beside each rate: the CPU µs per message of the server's processes and of smtp-source, and the
// machine's idle share during the run (bench/lib/cpu.ts), to tell a CPU-bound server from a waiting one.
// Env: MTA_BENCH_MESSAGES (default 20000), MTA_BENCH_RUNS (default 3; the median is printed).
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostfix } from '@homing/test-peers';
import { type CpuFigures, processCpuSeconds, treeCpuSeconds, withCpuFigures } from './lib/cpu';
import { median } from './lib/measure';
import { root, smtpSource, startBenchDns, startHomingProcess } from './lib/mta';

const messages = Number(process.env.MTA_BENCH_MESSAGES ?? 20000);
const runs = Number(process.env.MTA_BENCH_RUNS ?? 3);
const load = { sessions: 20, size: 10240 };

const dns = await startBenchDns();
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-mta-'));
const homing = await startHomingProcess(dir, dns.address, {
  extra: ['limits: { connections: 2000, connections_per_ip: 1000 }'],
});
const postfix = await startPostfix({ hostname: 'mx.postfix.test' });
// Postfix's local(8) runs as the daemon user (uid 1): it must reach and write this Maildir.
chmodSync(dir, 0o755);
const postfixMaildir = join(dir, 'postfix-maildir');
for (const sub of ['', 'new', 'cur', 'tmp']) mkdirSync(join(postfixMaildir, sub), { recursive: true });
for (const sub of ['', 'new', 'cur', 'tmp']) chownSync(join(postfixMaildir, sub), 1, 1);
const delivering = await startPostfix({
  hostname: 'mx.postfix.test',
  localDelivery: { domain: 'example.org', maildirs: { alice: postfixMaildir } },
});
const servers = { homing: homing.port, postfix: postfix.port, delivering: delivering.port };
type Name = keyof typeof servers;
// Postfix's daemons of both instances: the one not under load is idle meanwhile.
const postfixDaemons = join(root, '.cache/postfix/usr/lib/postfix');
const homingPid = homing.child.pid as number;
const cpuOf: Record<Name, () => number> = {
  homing: () => processCpuSeconds(homingPid),
  postfix: () => treeCpuSeconds(postfixDaemons),
  delivering: () => treeCpuSeconds(postfixDaemons),
};
const samples = Object.fromEntries(
  Object.keys(servers).map((name) => [name, { plain: [] as number[], reuse: [] as number[] }]),
) as Record<Name, { plain: number[]; reuse: number[] }>;
const cpuSamples = Object.fromEntries(
  Object.keys(servers).map((name) => [name, { plain: [] as CpuFigures[], reuse: [] as CpuFigures[] }]),
) as Record<Name, { plain: CpuFigures[]; reuse: CpuFigures[] }>;
try {
  for (let run = 0; run < runs; run++) {
    for (const reuse of [false, true]) {
      // The two take turns going first, and each measurement follows an unmeasured burst.
      const order: Name[] = run % 2 === 0 ? ['homing', 'postfix', 'delivering'] : ['delivering', 'postfix', 'homing'];
      for (const name of order) {
        const port = servers[name];
        await smtpSource(port, { ...load, reuse, messages: Math.max(200, Math.floor(messages / 10)) });
        const measured = await withCpuFigures(messages, cpuOf[name], () =>
          smtpSource(port, { ...load, reuse, messages }),
        );
        samples[name][reuse ? 'reuse' : 'plain'].push(measured.result);
        cpuSamples[name][reuse ? 'reuse' : 'plain'].push(measured.cpu);
      }
    }
  }
} finally {
  homing.child.kill('SIGTERM');
  await postfix.stop();
  await delivering.stop();
  await dns.close();
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
const rates = (name: Name) => ({ plain: median(samples[name].plain), reuse: median(samples[name].reuse) });
const [h, p, d] = [rates('homing'), rates('postfix'), rates('delivering')];
console.log(
  `smtp-source -s ${load.sessions} -m ${messages} -l ${load.size}, median of ${runs} run(s), messages per second accepted and queued\n`,
);
console.log('| server | msg/s (new connection each) | msg/s (-d, reused) |');
console.log('| --- | ---: | ---: |');
console.log(
  `| homing start (fsync before 250, default filters, local delivery running) | ${Math.round(h.plain)} | ${Math.round(h.reuse)} |`,
);
console.log(`| Postfix 3.7 (into its hold queue) | ${Math.round(p.plain)} | ${Math.round(p.reuse)} |`);
console.log(
  `| Postfix 3.7 (into its queue, local(8) delivering to Maildir meanwhile) | ${Math.round(d.plain)} | ${Math.round(d.reuse)} |`,
);
const cores = availableParallelism();
const cpu = (name: Name, mode: 'plain' | 'reuse') => {
  const list = cpuSamples[name][mode];
  return {
    server: median(list.map((c) => c.serverMicros)),
    source: median(list.map((c) => c.sourceMicros)),
    idle: median(list.map((c) => c.idle)),
  };
};
console.log("\nCPU per message (µs, median; the server's processes, every thread) and the idle share of the cores:\n");
console.log('| server | server µs/msg (new / -d) | smtp-source µs/msg (new / -d) | cores idle (new / -d) |');
console.log('| --- | ---: | ---: | ---: |');
for (const name of Object.keys(servers) as Name[]) {
  const [a, b] = [cpu(name, 'plain'), cpu(name, 'reuse')];
  console.log(
    `| ${name} | ${Math.round(a.server)} / ${Math.round(b.server)} | ${Math.round(a.source)} / ${Math.round(b.source)} | ${Math.round(a.idle * 100)}% / ${Math.round(b.idle * 100)}% |`,
  );
}
// The CPU budget: 4x Postfix's rate on this machine's cores leaves each message this much CPU,
// smtp-source's share taken off; the kernel's loopback TCP work is inside both figures.
for (const mode of ['plain', 'reuse'] as const) {
  const goal = 4 * (mode === 'plain' ? p.plain : p.reuse);
  const budget = (cores * 1e6) / goal - cpu('homing', mode).source;
  console.log(
    `- ${mode === 'plain' ? 'new connection each' : '-d'}: 4x Postfix is ${Math.round(goal)} msg/s, which leaves homing at most ${Math.round(budget)} µs of CPU per message on ${cores} cores; it used ${Math.round(cpu('homing', mode).server)}`,
  );
}
for (const [what, ratio] of [
  ['hold queue, new connection each', h.plain / p.plain],
  ['hold queue, -d', h.reuse / p.reuse],
  ['both delivering, new connection each', h.plain / d.plain],
  ['both delivering, -d', h.reuse / d.reuse],
] as const) {
  console.log(`- homing / Postfix, ${what}: ${ratio.toFixed(2)}x (goal 4x) ${ratio >= 4 ? 'met' : 'NOT met'}`);
}
