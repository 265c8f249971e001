import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openFileQueue, type Queue } from '@homing/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callControl } from '../../src/server/control/control-client';
import { isControlError } from '../../src/server/control/control-error';
import { type ControlServer, startControlServer } from '../../src/server/control/control-server';
import { createEventLog } from '../../src/server/observability/event-log';

let dir = '';
let queue: Queue;
let server: ControlServer | undefined;
let logged: string[] = [];
let reloadAnswer: { ok: true } | { ok: false; error: string } = { ok: true };

function log() {
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logged.push(...chunk.toString().split('\n').filter(Boolean)));
  return createEventLog({ format: 'text', stream, runId: '0123456789abcdef' });
}

let release: () => void = () => {};
const held = new Promise<void>((resolve) => {
  release = resolve;
});

async function start(path = join(dir, 'control.sock')) {
  server = await startControlServer({
    path,
    queue,
    reload: async () => reloadAnswer,
    status: () => ({ uptime: 12, listeners: ['mx'] }),
    // A command that answers only once the test lets it.
    commands: { 'test.wait': async () => held.then(() => ({ waited: true })) },
    log: log(),
  });
  return path;
}

/** Sends raw bytes and resolves the lines the server answers until it closes. */
function raw(path: string, bytes: string | Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString().split('\n').filter(Boolean)));
    socket.end(bytes);
  });
}

/** A socket file as a crash leaves it: bound by a process killed with SIGKILL, so nobody accepts. */
function staleSocket(path: string): void {
  const child = spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  expect(child.signal).toBe('SIGKILL');
  expect(lstatSync(path).isSocket()).toBe(true);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-control-'));
  queue = await openFileQueue({ spool: join(dir, 'spool') });
  logged = [];
  reloadAnswer = { ok: true };
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await queue.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the control socket', { timeout: 20_000 }, () => {
  it('listens on a unix socket only its owner may use (mode 600)', async () => {
    const path = await start();
    const info = await lstat(path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
  });

  it('lists, shows, holds, releases, flushes and removes messages of the real queue', async () => {
    const path = await start();
    const { id } = await queue.enqueue({ sender: 'a@example.org', recipients: ['b@example.net'] }, Buffer.from('x'));
    const list = (await callControl(path, 'queue.list', {})) as { messages: { id: string }[] };
    expect(list.messages.map((m) => m.id)).toEqual([id]);
    expect(await callControl(path, 'queue.show', { id })).toMatchObject({ id, sender: 'a@example.org', held: false });
    expect(await callControl(path, 'queue.hold', { id })).toEqual({ id, held: true });
    expect((await queue.inspect(id))?.held).toBe(true);
    expect(await callControl(path, 'queue.list', { state: 'held' })).toMatchObject({ messages: [{ id }] });
    expect(await callControl(path, 'queue.release', { id })).toEqual({ id, released: true });
    expect((await queue.inspect(id))?.held).toBe(false);
    expect(await callControl(path, 'queue.flush', {})).toEqual({ rescheduled: expect.any(Number) });
    expect(await callControl(path, 'queue.remove', { id })).toEqual({ id, removed: true });
    expect(await queue.inspect(id)).toBeUndefined();
    expect(logged).toContain(`0123456789abcdef control command command=queue.hold queueid=${id} result=ok`);
    expect(logged.some((line) => line.includes('command=queue.list'))).toBe(false);
  });

  it('answers reload and status through the callbacks, and a refused reload as RELOAD_FAILED', async () => {
    const path = await start();
    expect(await callControl(path, 'reload')).toEqual({ reloaded: true });
    expect(await callControl(path, 'status')).toEqual({ uptime: 12, listeners: ['mx'] });
    reloadAnswer = { ok: false, error: 'homing.yml:4:9: tls.cert: file /nope does not exist' };
    const error = await callControl(path, 'reload').catch((e: unknown) => e);
    expect(isControlError(error, 'RELOAD_FAILED')).toBe(true);
    expect((error as Error).message).toBe('homing.yml:4:9: tls.cert: file /nope does not exist');
  });

  it('gives errors as codes: unknown id, unknown command, bad arguments', async () => {
    const path = await start();
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['queue.show', { id: 'ffffffffffffffff' }, 'NOT_FOUND', /no message ffffffffffffffff in the queue/],
      ['queue.hold', { id: 'ffffffffffffffff' }, 'NOT_FOUND', /no message ffffffffffffffff/],
      ['queue.hold', {}, 'BAD_REQUEST', /args.id/],
      ['queue.list', { state: 'lost' }, 'BAD_REQUEST', /args.state must be one of/],
      ['queue.list', { colour: 'red' }, 'BAD_REQUEST', /unknown filter colour/],
      ['queue.destroy', {}, 'UNKNOWN_COMMAND', /unknown command "queue.destroy"/],
    ];
    for (const [command, args, code, message] of cases) {
      const error = await callControl(path, command, args).catch((e: unknown) => e);
      expect(isControlError(error, code), `${command} ${JSON.stringify(args)}`).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('answers several requests on one connection in order, and bad lines with BAD_REQUEST', async () => {
    const path = await start();
    const lines = await raw(
      path,
      '{"id":"a","command":"status"}\nnot json\n{"id":2}\n\n{"id":3,"command":"queue.list","args":[]}\n{"id":4,"command":"queue.list"}\n',
    );
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { id: 'a', result: { uptime: 12, listeners: ['mx'] } },
      { id: null, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/one JSON object on one line/) } },
      { id: 2, error: { code: 'BAD_REQUEST', message: 'command must be a string' } },
      { id: 3, error: { code: 'BAD_REQUEST', message: 'args must be an object' } },
      { id: 4, result: { messages: [] } },
    ]);
  });

  it('stops reading from a client that sends requests and never reads the answers, and loses none', async () => {
    const path = await start();
    const socket = connect({ path });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.pause();
    const count = 100_000;
    const requests = Array.from({ length: count }, (_, i) => `{"id":${i},"command":"status"}\n`).join('');
    socket.write(requests);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // A server that read everything would hold every answer in its own memory; one that stops
    // reading leaves the requests in the client's buffer.
    expect(socket.writableLength).toBeGreaterThan(requests.length / 2);
    const chunks: Buffer[] = [];
    let received = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        for (const byte of chunk) if (byte === 10) received += 1;
        if (received === count) resolve();
      });
    });
    socket.resume();
    await done;
    socket.destroy();
    const ids = Buffer.concat(chunks)
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { id: number }).id);
    expect(ids).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('stops reading while answers are slow to come, instead of queueing every request read', async () => {
    const path = await start();
    const socket = connect({ path });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const count = 50_000;
    const requests = Array.from({ length: count }, (_, i) => `{"id":${i},"command":"test.wait"}\n`).join('');
    socket.write(requests);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(socket.writableLength).toBeGreaterThan(requests.length / 2);
    let received = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        for (const byte of chunk) if (byte === 10) received += 1;
        if (received === count) resolve();
      });
    });
    release();
    await done;
    socket.destroy();
  });

  it('refuses a request line over 64 KiB and closes the connection', async () => {
    const path = await start();
    const lines = await raw(path, Buffer.alloc(70 * 1024, 'a'));
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { id: null, error: { code: 'PROTOCOL', message: 'a line over 65536 bytes' } },
    ]);
  });

  it('says NOT_RUNNING when nobody listens: no socket file, or a stale one from a crash', async () => {
    const missing = await callControl(join(dir, 'none.sock'), 'status').catch((e: unknown) => e);
    expect(isControlError(missing, 'NOT_RUNNING')).toBe(true);
    expect((missing as Error).message).toBe(`no homing server answers on ${join(dir, 'none.sock')}`);
    const stale = join(dir, 'stale.sock');
    staleSocket(stale);
    expect(isControlError(await callControl(stale, 'status').catch((e: unknown) => e), 'NOT_RUNNING')).toBe(true);
  });

  it('replaces a stale socket file nobody answers on, and refuses to start beside a live server', async () => {
    const path = join(dir, 'control.sock');
    staleSocket(path);
    await start(path);
    expect(await callControl(path, 'status')).toEqual({ uptime: 12, listeners: ['mx'] });
    const second = await startControlServer({
      path,
      queue,
      reload: async () => ({ ok: true }),
      status: () => ({}),
      log: log(),
    }).catch((e: unknown) => e);
    expect(isControlError(second, 'ALREADY_RUNNING')).toBe(true);
    expect(await callControl(path, 'status')).toEqual({ uptime: 12, listeners: ['mx'] });
  });

  it('leaves a path that is not a socket alone', async () => {
    const path = join(dir, 'file');
    await writeFile(path, 'keep me');
    const error = await start(path).catch((e: unknown) => e);
    expect(isControlError(error, 'NOT_A_SOCKET')).toBe(true);
    expect((await stat(path)).size).toBe(7);
  });

  it('removes its socket file on close, and then callers get NOT_RUNNING', async () => {
    const path = await start();
    await server!.close();
    server = undefined;
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(isControlError(await callControl(path, 'status').catch((e: unknown) => e), 'NOT_RUNNING')).toBe(true);
  });

  it('times out with TIMEOUT when the server does not answer', async () => {
    const path = join(dir, 'silent.sock');
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    try {
      const error = await callControl(path, 'status', {}, { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(isControlError(error, 'TIMEOUT')).toBe(true);
      expect((error as Error).message).toMatch(/did not answer status within 200 ms/);
    } finally {
      silent.close();
    }
  });
});
