import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    postgres: 'src/postgres/index.ts',
  },
  format: ['esm', 'cjs'],
  // Shared chunks in CJS too (esbuild splits only ESM by default): otherwise every entry point
  // bundles its own copy of the error class, and instanceof fails across subpaths.
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
