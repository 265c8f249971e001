// Reads the output of `npm test` (turbo prefixing each package's vitest output) on stdin and
// prints one closing line, "tests: N passed, N failed[, N skipped]", summed over every package,
// after the names of the tests that failed (vitest's "FAIL" and "×" lines), so that the tail of
// the CI log says which test failed without scrolling back.
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
const failures = [];
for (const line of text.split('\n')) {
  const failed = /^(?:\S+:test:\s*)?\s*(?:FAIL\s+.+>.+|[×✗]\s+.+)$/.exec(line);
  if (failed !== null && !failures.includes(line.trim())) failures.push(line.trim());
}
if (failures.length > 0) {
  console.log('\nfailed tests:');
  for (const line of failures.slice(0, 40)) console.log(`  ${line}`);
}
const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : '';
console.log(`\n${runs} test runs`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed${skipped}`);
