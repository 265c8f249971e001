import { type ChildProcess, spawn } from 'node:child_process';
import { listeningPort } from './net';
import { postfixEnv, postfixProgram } from './repo';

/** A running smtp-sink. */
export interface SmtpSink {
  port: number;
  /** What smtp-sink wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** The listen backlog smtp-sink is given (its last argument); default 64. */
  backlog?: number;
  /** Called with each piece of output as it comes (e.g. the counters `-c` prints). */
  onOutput?: (text: string) => void;
}

/**
 * Starts Postfix's smtp-sink on 127.0.0.1 (ephemeral port) with `flags`, as nobody when this
 * process is root, and resolves once it listens. Fails loudly when smtp-sink is missing.
 */
export async function startSmtpSink(flags: string[], options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const program = postfixProgram('smtp-sink');
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(
    program,
    [...(asRoot ? ['-u', 'nobody'] : []), ...flags, '127.0.0.1:0', String(options.backlog ?? 64)],
    { env: postfixEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const take = (text: string) => {
    output += text;
    options.onOutput?.(text);
  };
  child.stdout?.setEncoding('utf8').on('data', take);
  child.stderr?.setEncoding('utf8').on('data', take);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 5000;
  let port: number | undefined;
  while (port === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`smtp-sink did not start listening: ${output}`);
    }
    await new Promise((done) => setTimeout(done, 20));
    port = listeningPort(child.pid!);
  }
  return {
    port,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
