#!/usr/bin/env node
// `prepack` of every publishable package: refuse to pack a package whose dist/ is missing or
// older than its sources, so that no tarball goes out empty or stale. It does not build: the
// packages are packed side by side (`changeset publish` publishes in parallel) and a build here
// would rewrite a dist/ another package's build is reading. `npm run release` builds first.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function times(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...times(path));
    else found.push(statSync(path).mtimeMs);
  }
  return found;
}

const name = process.env.npm_package_name ?? process.cwd();
let built;
try {
  built = times('dist');
} catch {
  built = [];
}
if (built.length === 0) {
  process.stderr.write(`${name}: dist/ is missing: run \`npm run build\` at the repository root before packing\n`);
  process.exit(1);
}
const newestSource = Math.max(...times('src'), statSync('tsup.config.ts').mtimeMs);
if (newestSource > Math.min(...built)) {
  process.stderr.write(
    `${name}: dist/ is older than src/: run \`npm run build\` at the repository root before packing\n`,
  );
  process.exit(1);
}
