import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One pipeline (copy, build, publish, install) shared by every test of the file.
    testTimeout: 120_000,
    hookTimeout: 420_000,
  },
});
