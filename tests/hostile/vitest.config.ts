import { defineConfig } from 'vitest/config';

// One file at a time: each starts its own `homing start` and loads the 2-core machine on purpose;
// two at once would measure each other. The summary table is printed by the reporter at the end.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    globalSetup: ['./src/global-setup.ts'],
    reporters: ['default', './src/summary-reporter.ts'],
  },
});
