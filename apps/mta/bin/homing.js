#!/usr/bin/env node
// The `homing` command. The code lives in dist/cli.js (built by `npm run build`).
const cli = new URL('../dist/cli.js', import.meta.url);

let run;
try {
  ({ run } = await import(cli.href));
} catch (error) {
  // Run from a checkout before the build: say what to do instead of a module-not-found stack.
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(cli.pathname)) {
    process.stderr.write(
      'homing: not built yet (dist/cli.js is missing): run `npm run build` at the repository root first\n',
    );
    process.exit(1);
  }
  throw error;
}

run(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // run() reports every error itself; this is a bug in it.
    process.stderr.write(`homing: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
