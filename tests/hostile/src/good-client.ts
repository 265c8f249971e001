// Drives good-client-process.mjs (a well-behaved sender in its own process) and keeps its results.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface GoodResult {
  id: string;
  ms: number;
  reply: string;
  accepted: boolean;
  checksum: string;
  /** Wall-clock time the session ended. */
  at: number;
}

export interface GoodClient {
  /** Every session so far. */
  results(): GoodResult[];
  /** The sessions that ended between two instants. */
  between(from: number, to: number): GoodResult[];
  stop(): Promise<void>;
}

/** Starts a well-behaved client sending to 127.0.0.1:port, a session every `pauseMs` after the last. */
export function startGoodClient(port: number, pauseMs = 100): GoodClient {
  const child: ChildProcess = spawn(
    process.execPath,
    [fileURLToPath(new URL('./good-client-process.mjs', import.meta.url)), String(port), String(pauseMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const results: GoodResult[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '') results.push(JSON.parse(line) as GoodResult);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    results: () => [...results],
    between: (from, to) => results.filter((r) => r.at >= from && r.at <= to),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
