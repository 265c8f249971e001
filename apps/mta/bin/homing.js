#!/usr/bin/env node
// The `homing` command. The code lives in dist/cli.js (built by `npm run build`).
import { run } from '../dist/cli.js';

run(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`homing: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
