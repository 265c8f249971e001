import { defineConfig } from 'vitest/config';

// Key generation and the property tests are CPU-bound: on a loaded 2-core machine they need more
// than vitest's 5 s default. Interop tests set their own 30 s bounds.
export default defineConfig({
  test: { testTimeout: 20_000, hookTimeout: 30_000 },
});
