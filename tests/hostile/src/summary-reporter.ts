// Prints the battery's one summary table at the end of the run: cases tried and passed (from the
// test results), and the figures the test files recorded (see summary.ts).
import { existsSync, readFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';
import { median } from './stats';
import type { SummaryRecord } from './summary';

function totals(records: SummaryRecord[]) {
  const sum = (key: keyof SummaryRecord) => records.reduce((n, r) => n + ((r[key] as number | undefined) ?? 0), 0);
  const idle = records.flatMap((r) => r.idleLatencies ?? []);
  const abuse = records.flatMap((r) => r.abuseLatencies ?? []);
  return {
    acknowledged: sum('acknowledged'),
    delivered: sum('delivered'),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    fuzzSessions: sum('fuzzSessions'),
    crashes: sum('crashes'),
    peakRss: Math.max(0, ...records.map((r) => r.peakRss ?? 0)),
    idle,
    abuse,
    worstCaseMedian: Math.max(0, ...records.map((r) => r.worstCaseMedian ?? 0)),
    noise: records.find((r) => r.latencyNoiseMs !== undefined)?.latencyNoiseMs,
  };
}

const ms = (values: number[]) =>
  values.length === 0 ? 'n/a' : `median ${median(values).toFixed(1)} ms, worst ${Math.max(...values).toFixed(1)} ms`;

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let tried = 0;
    let passed = 0;
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'skipped' || state === 'pending') continue;
        tried++;
        if (state === 'passed') passed++;
      }
    }
    const file = process.env.HOSTILE_SUMMARY_FILE;
    const records: SummaryRecord[] =
      file && existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as SummaryRecord)
        : [];
    const t = totals(records);
    const rows: [string, string][] = [
      ['cases tried', String(tried)],
      ['cases passed', String(passed)],
      ['messages acknowledged (250)', String(t.acknowledged)],
      ['messages delivered', String(t.delivered)],
      ['lost (must be 0)', String(t.lost)],
      ['duplicated (must be 0)', String(t.duplicated)],
      ['fuzz sessions', String(t.fuzzSessions)],
      ['crashes (must be 0)', String(t.crashes)],
      ['peak server RSS', `${(t.peakRss / 1024 / 1024).toFixed(1)} MiB`],
      ['good client, idle', ms(t.idle)],
      ['good client, under abuse', ms(t.abuse)],
    ];
    if (t.idle.length > 0 && t.noise !== undefined) {
      const idle = median(t.idle);
      rows.push([
        'latency bound (per case)',
        `3x idle ${(3 * idle).toFixed(1)} ms, idle + ${t.noise} ms ${(idle + t.noise).toFixed(1)} ms; worst case median ${t.worstCaseMedian.toFixed(1)} ms`,
      ]);
    }
    const width = Math.max(...rows.map(([name]) => name.length));
    const lines = rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
    process.stdout.write(`\nHostile battery summary\n${lines.join('\n')}\n\n`);
  }
}
