// Reads the output of `npm test` (turbo prefixing each package's vitest output) on stdin and
// prints one closing line, "tests: N passed, N failed[, N skipped]", summed over every package.
import { readFileSync } from 'node:fs';

const text = readFileSync(0, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const totals = { passed: 0, failed: 0, skipped: 0 };
let runs = 0;
for (const line of text.split('\n')) {
  const match = /\bTests\s+(.*\(\d+\))\s*$/.exec(line);
  if (match === null) continue;
  runs += 1;
  for (const [, count, kind] of match[1].matchAll(/(\d+) (passed|failed|skipped)/g)) totals[kind] += Number(count);
}
const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : '';
console.log(`\n${runs} test runs`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed${skipped}`);
