// Messages per second accepted and durably queued by `homing start` (every message fsynced
// before its 250, the default filters on, DNS from a loopback server, local delivery running),
// beside a throw-away Postfix 3.7 accepting the same load into its own queue (hold), in the same
// run; both driven by Postfix's smtp-source on loopback, a new connection per message and with -d.
// Env: MTA_BENCH_MESSAGES (default 20000), MTA_BENCH_RUNS (default 3; the median is printed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostfix } from '@homing/test-peers';
import { median } from './lib/measure';
import { smtpSource, startBenchDns, startHomingProcess } from './lib/mta';

const messages = Number(process.env.MTA_BENCH_MESSAGES ?? 20000);
const runs = Number(process.env.MTA_BENCH_RUNS ?? 3);
const load = { sessions: 20, size: 10240 };

const dns = await startBenchDns();
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-mta-'));
const homing = await startHomingProcess(dir, dns.address, ['limits: { connections: 2000, connections_per_ip: 1000 }']);
const postfix = await startPostfix({ hostname: 'mx.postfix.test' });
const samples = {
  homing: { plain: [] as number[], reuse: [] as number[] },
  postfix: { plain: [] as number[], reuse: [] as number[] },
};
try {
  for (let run = 0; run < runs; run++) {
    for (const reuse of [false, true]) {
      // The two take turns going first, and each measurement follows an unmeasured burst.
      const order = run % 2 === 0 ? (['homing', 'postfix'] as const) : (['postfix', 'homing'] as const);
      for (const name of order) {
        const port = name === 'homing' ? homing.port : postfix.port;
        await smtpSource(port, { ...load, reuse, messages: Math.max(200, Math.floor(messages / 10)) });
        samples[name][reuse ? 'reuse' : 'plain'].push(await smtpSource(port, { ...load, reuse, messages }));
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
console.log(
  `smtp-source -s ${load.sessions} -m ${messages} -l ${load.size}, median of ${runs} run(s), messages per second accepted and queued\n`,
);
console.log('| server | msg/s (new connection each) | msg/s (-d, reused) |');
console.log('| --- | ---: | ---: |');
console.log(
  `| homing start (fsync before 250, default filters, local delivery running) | ${Math.round(h.plain)} | ${Math.round(h.reuse)} |`,
);
console.log(`| Postfix 3.7 (into its hold queue) | ${Math.round(p.plain)} | ${Math.round(p.reuse)} |`);
for (const [what, ratio] of [
  ['new connection each', h.plain / p.plain],
  ['-d', h.reuse / p.reuse],
] as const) {
  console.log(`- homing / Postfix, ${what}: ${ratio.toFixed(2)}x (goal 4x) ${ratio >= 4 ? 'met' : 'NOT met'}`);
}
