// Creates the file the test files append their figures to (see summary.ts); the reporter reads it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'homing-hostile-summary-'));
  const file = join(dir, 'figures.jsonl');
  writeFileSync(file, '');
  process.env.HOSTILE_SUMMARY_FILE = file;
  project.provide('summaryFile', file);
  return () => rmSync(dir, { recursive: true, force: true });
}
