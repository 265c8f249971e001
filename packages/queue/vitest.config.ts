import { defineConfig } from 'vitest/config';

// Every test is bounded: fsync-heavy tests get room on a loaded disk, the crash test sets its own.
export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
