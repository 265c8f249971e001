// The control socket of a running server: a unix socket, mode 600, that `homing queue` and
// `homing reload` talk to, so an operator never has to stop the server to look at its queue.

import { chmod, lstat, mkdir, mkdtemp, rename, rmdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Queue } from '@homing/queue';
import type { EventLog } from '../observability/observability-types';
import { type ControlHandler, type ControlTarget, type ReloadHandler, runControlCommand } from './control-commands';
import { ControlError } from './control-error';
import {
  type ControlResponse,
  encodeResponse,
  LineSplitter,
  MAX_REQUEST_BYTES,
  parseRequest,
} from './control-protocol';

/** Options of `startControlServer`. */
export interface ControlServerOptions {
  /** Path of the unix socket (`listen.control`). */
  path: string;
  queue: Queue;
  reload: ReloadHandler;
  /** What `status` answers (uptime, listeners, config source, ...). */
  status: () => object;
  /** More commands by name (see ControlTarget). */
  commands?: Record<string, ControlHandler>;
  log: EventLog;
  /** A connection with no request for this long is closed, ms (default 60 s). */
  idleTimeoutMs?: number;
}

/** A listening control socket. */
export interface ControlServer {
  readonly path: string;
  /** Stops listening, ends connections once their answers are written, removes the socket file. */
  close(): Promise<void>;
}

const QUIET = new Set(['status', 'queue.list', 'queue.show']);
/** Requests of one connection read and not yet answered before the server stops reading it. */
const MAX_PENDING_REQUESTS = 32;

/** Asks whoever listens on `path` for a connection: true when someone accepts. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(false);
      else reject(error);
    });
  });
}

/** Checks that `path` is free: nothing there, or a stale socket from a crash that nobody answers on. */
async function clearStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info === undefined) return;
  if (!info.isSocket()) {
    throw new ControlError('NOT_A_SOCKET', `${path} exists and is not a socket: remove it or set listen.control`);
  }
  if (await answers(path)) {
    throw new ControlError(
      'ALREADY_RUNNING',
      `another homing server answers on the control socket ${path}: stop it first, or give this one another state or listen.control`,
    );
  }
  // Nobody answers: a crash left it. The rename in bindPrivately replaces it atomically.
}

/**
 * Binds the socket in a fresh private directory (mode 700), makes it mode 600 there, then renames
 * it into place: nobody can connect between bind and chmod, and no process-wide umask is touched.
 */
async function bindPrivately(server: Server, path: string): Promise<number> {
  await mkdir(dirname(path), { recursive: true });
  const directory = await mkdtemp(join(dirname(path), '.c'));
  const temporary = join(directory, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: temporary }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(temporary, 0o600);
    await rename(temporary, path);
    return (await lstat(path)).ino;
  } finally {
    await rmdir(directory).catch(() => {});
  }
}

/** Serves one connection; the function it returns ends the connection once the answers in flight are written. */
function serveConnection(socket: Socket, target: ControlTarget, log: EventLog, idleTimeoutMs: number): () => void {
  const lines = new LineSplitter(MAX_REQUEST_BYTES);
  // Requests of one connection are answered in order, one at a time.
  let chain = Promise.resolve();
  // Back-pressure: a client that pipelines requests and does not read the answers (or asks for
  // slow ones faster than they come) is no longer read from, so neither the answers nor the
  // requests waiting pile up in the server's memory; the idle timeout then ends it.
  let pending = 0;
  let blocked = false;
  let stopped = false;
  const flow = () => {
    if (stopped || blocked || pending >= MAX_PENDING_REQUESTS) socket.pause();
    else if (!socket.destroyed) socket.resume();
  };
  const send = async (response: ControlResponse) => {
    if (socket.destroyed || socket.write(encodeResponse(response))) return;
    blocked = true;
    flow();
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
    blocked = false;
    flow();
  };
  const answer = async (line: string) => {
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      await send(parsed.response);
      return;
    }
    const { id, command, args } = parsed.request;
    const outcome = await runControlCommand(target, command, args);
    // Logged when done, not when the client reads the answer (it may never).
    if (!QUIET.has(command) || 'error' in outcome) {
      log.event(log.runId, 'control', 'command', {
        command,
        queueid: typeof args.id === 'string' ? args.id : undefined,
        result: 'error' in outcome ? outcome.error.code : 'ok',
        error: 'error' in outcome ? outcome.error.message : undefined,
      });
    }
    await send({ id, ...outcome });
  };
  socket.setTimeout(idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    let received: string[];
    try {
      received = lines.push(chunk);
    } catch (error) {
      stopped = true;
      socket.pause();
      chain = chain.then(async () => {
        await send({ id: null, error: { code: 'PROTOCOL', message: (error as Error).message } });
        socket.end();
      });
      return;
    }
    for (const line of received) {
      if (line.trim() === '') continue;
      pending += 1;
      chain = chain.then(async () => {
        try {
          await answer(line);
        } finally {
          pending -= 1;
          flow();
        }
      });
    }
    flow();
  });
  const endAfterAnswers = () => {
    chain = chain.then(() => {
      socket.end();
    });
  };
  socket.on('end', endAfterAnswers);
  return endAfterAnswers;
}

/** Listens on the control socket; rejects with a ControlError when another server answers there. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { path, log } = options;
  const target: ControlTarget = {
    queue: options.queue,
    reload: options.reload,
    status: options.status,
    commands: options.commands,
  };
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const sockets = new Map<Socket, () => void>();
  const server = createServer((socket) => {
    sockets.set(socket, serveConnection(socket, target, log, idleTimeoutMs));
    socket.once('close', () => sockets.delete(socket));
  });
  server.maxConnections = 64;
  await clearStaleSocket(path);
  const inode = await bindPrivately(server, path);
  let closing: Promise<void> | undefined;
  return {
    path,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const endAfterAnswers of sockets.values()) endAfterAnswers();
          // A client that never reads its answer must not keep the server from stopping.
          setTimeout(() => {
            for (const socket of sockets.keys()) socket.destroy();
          }, 2_000).unref();
        });
        // Only our own socket file: a server started after us may have taken the path.
        const info = await lstat(path).catch(() => undefined);
        if (info?.ino === inode) await unlink(path).catch(() => {});
      })();
      return closing;
    },
  };
}
