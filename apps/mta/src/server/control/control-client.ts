// The client side of the control socket: one request, one answer, then the connection closes.

import { connect } from 'node:net';
import { ControlError } from './control-error';
import { encodeRequest, LineSplitter, MAX_RESPONSE_BYTES } from './control-protocol';

/** Options of `callControl`. */
export interface CallControlOptions {
  /** How long to wait for the answer, ms (default 30 s). */
  timeoutMs?: number;
}

function connectError(path: string, error: NodeJS.ErrnoException): ControlError {
  if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
    return new ControlError('NOT_RUNNING', `no homing server answers on ${path}`, { cause: error });
  }
  if (error.code === 'EACCES' || error.code === 'EPERM') {
    return new ControlError(
      'PERMISSION',
      `no permission to use the control socket ${path}: run as the user the server runs as (or root)`,
      { cause: error },
    );
  }
  return new ControlError('PROTOCOL', `cannot use the control socket ${path}: ${error.code ?? error.message}`, {
    cause: error,
  });
}

/**
 * Sends one command to the server listening on `path` and resolves to its result. Rejects with a
 * ControlError: `NOT_RUNNING` when nobody listens, `TIMEOUT`, `PROTOCOL`, or the server's own
 * error code and message (`NOT_FOUND`, `RELOAD_FAILED`, `BAD_REQUEST`, ...).
 */
export function callControl(
  path: string,
  command: string,
  args: Record<string, unknown> = {},
  options: CallControlOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const id = 1;
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const lines = new LineSplitter(MAX_RESPONSE_BYTES);
    let connected = false;
    let settled = false;
    const finish = (error: ControlError | undefined, result?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined) resolve(result);
      else reject(error);
    };
    const timer = setTimeout(
      () =>
        finish(new ControlError('TIMEOUT', `the server on ${path} did not answer ${command} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('connect', () => {
      connected = true;
      socket.write(encodeRequest({ id, command, args }));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      finish(
        connected
          ? new ControlError('PROTOCOL', `the control connection to ${path} failed: ${error.code ?? error.message}`)
          : connectError(path, error),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      let received: string[];
      try {
        received = lines.push(chunk);
      } catch (error) {
        finish(new ControlError('PROTOCOL', `the answer from ${path} is ${(error as Error).message}`));
        return;
      }
      const [line] = received;
      if (line === undefined) return;
      let response: { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
      try {
        response = JSON.parse(line);
      } catch {
        finish(new ControlError('PROTOCOL', `the answer from ${path} is not JSON`));
        return;
      }
      if (typeof response !== 'object' || response === null) {
        finish(new ControlError('PROTOCOL', `the answer from ${path} is not a JSON object`));
      } else if (response.error !== undefined) {
        const { code, message } = response.error;
        finish(new ControlError(typeof code === 'string' ? code : 'PROTOCOL', String(message ?? 'no message')));
      } else if (response.id !== id || !('result' in response)) {
        finish(new ControlError('PROTOCOL', `the answer from ${path} does not answer the request`));
      } else {
        finish(undefined, response.result);
      }
    });
    socket.on('close', () => {
      finish(new ControlError('PROTOCOL', `the server on ${path} closed the connection without answering ${command}`));
    });
  });
}
