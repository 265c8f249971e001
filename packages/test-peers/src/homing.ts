import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo';

/** The `homing` command of apps/mta (it runs the built apps/mta/dist/cli.js). */
export const HOMING_BIN = join(REPO_ROOT, 'apps/mta/bin/homing.js');

/** How a `homing` run ended. */
export interface HomingRun {
  /** The exit code; -1 when the process was killed by a signal (e.g. on timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunHomingOptions {
  /** Written to stdin, which is then closed; default nothing. */
  input?: string | Buffer;
  /** Variables set over this process's environment (undefined removes one). */
  env?: NodeJS.ProcessEnv;
  /** How stdout and stderr are decoded; default utf8. */
  encoding?: BufferEncoding;
  /** Milliseconds before the process is killed; default 20 000. */
  timeout?: number;
}

/** Runs `node apps/mta/bin/homing.js ...args` as a user would and resolves its exit code and output. */
export function runHoming(args: string[], options: RunHomingOptions = {}): Promise<HomingRun> {
  if (!existsSync(join(REPO_ROOT, 'apps/mta/dist/cli.js'))) {
    return Promise.reject(
      new Error('apps/mta is not built: run `npx tsup` in apps/mta (or `npm run build` at the root)'),
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOMING_BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeout ?? 20_000,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const encoding = options.encoding ?? 'utf8';
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString(encoding),
        stderr: Buffer.concat(stderr).toString(encoding),
      });
    });
    // The command may exit without reading all of its input (e.g. when it refuses it).
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
