import { spawn } from 'node:child_process';

/**
 * Runs `program` with `args`, writes `input` to its stdin, and resolves to its stdout once it
 * exits 0; rejects with its exit code and stderr otherwise (`hint` added to the message: how to
 * install it).
 */
export function runWithInput(program: string, args: readonly string[], input: string, hint = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      err += text;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${program}${hint} exited ${code}: ${err}`)),
    );
    child.stdin.end(input);
  });
}
