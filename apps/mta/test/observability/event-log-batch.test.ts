// The event log on the process's real stdout gathers the lines of one turn of the event loop into
// one write (fewer pipe writes per message for a busy server), and loses none of them when the
// process ends: normally, by process.exit(), or by an uncaught exception.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./event-log-batch-child.ts', import.meta.url));

function run(how: string, count: number): Promise<{ lines: string[]; writes: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, ['--import', 'tsx', child, how, String(count)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    process_.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    process_.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    process_.on('error', reject);
    process_.on('close', (code) => {
      const writes = Number(/writes=(\d+)/.exec(err)?.[1] ?? Number.NaN);
      resolve({ lines: out.split('\n').filter(Boolean), writes, code });
    });
  });
}

describe('the event log on stdout', () => {
  it.each(['return', 'exit', 'throw'])(
    'writes every line in order, one write per turn of the event loop, when the process ends by %s',
    { timeout: 30_000 },
    async (how) => {
      const count = 500;
      const result = await run(how, count);
      expect(result.lines).toHaveLength(2 * count);
      result.lines.forEach((line, i) => {
        expect(line).toBe(`c1a89cb774083905 smtp message n=${i}`);
      });
      // Two bursts, each in one turn: two writes (not 1000).
      expect(result.writes).toBe(2);
      expect(result.code).toBe(how === 'throw' ? 1 : 0);
    },
  );
});
