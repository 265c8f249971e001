import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/homing.js', import.meta.url));

describe('the homing command', () => {
  it('prints usage with --help and exits 0', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/Usage: homing/);
  });

  it('names an unknown command and exits non-zero', async () => {
    const result = await run(process.execPath, [bin, 'frobnicate']).catch((error) => error);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });
});
