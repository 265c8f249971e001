import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openFileQueue, type Queue } from '@homing/queue';
import { type CertificateFiles, certificateFiles, runHoming } from '@homing/test-peers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ControlServer, startControlServer } from '../../src/server/control/control-server';
import { createEventLog } from '../../src/server/observability/event-log';

let dir = '';
let state = '';
let config = '';
let control = '';
let tls: CertificateFiles;
let first = '';
let second = '';

let server: { control: ControlServer; queue: Queue; logged: string[] } | undefined;
let reloadAnswer: { ok: true } | { ok: false; error: string } = { ok: true };
let reloads = 0;

/** Starts a control server on the config's socket, over the config's spool, as `homing start` would. */
async function startServer() {
  const queue = await openFileQueue({ spool: join(state, 'spool') });
  const logged: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logged.push(...chunk.toString().split('\n').filter(Boolean)));
  const log = createEventLog({ format: 'text', stream });
  const controlServer = await startControlServer({
    path: control,
    queue,
    reload: async () => {
      reloads++;
      return reloadAnswer;
    },
    status: () => ({}),
    log,
  });
  server = { control: controlServer, queue, logged };
  return server;
}

async function stopServer() {
  if (server === undefined) return;
  await server.control.close();
  await server.queue.close();
  server = undefined;
}

function configText(extra = ''): string {
  return [
    'domain: example.org',
    'hostname: mx.example.org',
    `tls: { cert: ${JSON.stringify(tls.certPath)}, key: ${JSON.stringify(tls.keyPath)} }`,
    `users: ${JSON.stringify(join(dir, 'users'))}`,
    `state: ${JSON.stringify(state)}`,
    extra,
    '',
  ].join('\n');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homing-queue-cli-'));
  state = join(dir, 'state');
  control = join(state, 'control.sock');
  config = join(dir, 'homing.yml');
  tls = certificateFiles();
  await writeFile(join(dir, 'users'), '', { mode: 0o600 });
  await writeFile(config, configText());
  await mkdir(state);
  const queue = await openFileQueue({ spool: join(state, 'spool') });
  first = (
    await queue.enqueue(
      {
        sender: 'alice@example.org',
        recipients: ['bob@example.net', 'carol@example.com'],
        attributes: { listener: 'mx' },
      },
      Buffer.from('Subject: one\r\n\r\nhi\r\n'),
    )
  ).id;
  second = (await queue.enqueue({ sender: 'dave@example.org', recipients: ['erin@example.com'] }, Buffer.from('x'))).id;
  const [claim] = await queue.claim({ domain: 'example.net' });
  await queue.settle(claim!.leaseId, [{ recipient: 'bob@example.net', status: 'deferred', reply: '451 4.7.1 later' }]);
  await queue.close();
});
afterEach(async () => {
  await stopServer();
  reloadAnswer = { ok: true };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (tls !== undefined) await rm(tls.dir, { recursive: true, force: true });
});

const homing = (...args: string[]) => runHoming(args, { env: { HOMING_SPOOL: '' } });

describe('homing queue --config', { timeout: 180_000 }, () => {
  it('prints exactly the same through a running server as on the spool directly', async () => {
    const commands = [
      ['queue', 'list', '--config', config],
      ['queue', 'list', '--config', config, '--json'],
      ['queue', 'list', '--config', config, '--json', '--state', 'deferred'],
      ['queue', 'list', '--config', config, '--sender', 'dave@example.org'],
      ['queue', 'show', first, '--config', config],
      ['queue', 'show', first, '--config', config, '--json'],
      ['queue', 'show', 'ffffffffffffffff', '--config', config],
      ['queue', 'hold', 'ffffffffffffffff', '--config', config],
    ];
    const direct = [];
    for (const args of commands) direct.push(await homing(...args));
    expect(direct[0]!.stdout).toMatch(
      /1 deferred, 1 pending {2}<alice@example\.org> -> bob@example\.net carol@example\.com/,
    );
    expect(JSON.parse(direct[1]!.stdout).messages.map((m: { id: string }) => m.id)).toEqual([first, second]);
    expect(direct[5]!.stdout).toContain('"listener":"mx"');
    expect(direct[6]).toMatchObject({
      code: 3,
      stderr: `homing: no message ffffffffffffffff in the queue (see homing queue list)\n`,
    });
    expect(direct[7]).toMatchObject({
      code: 3,
      stderr: `homing: no message ffffffffffffffff in the queue (see homing queue list)\n`,
    });

    await startServer();
    const through = [];
    for (const args of commands) through.push(await homing(...args));
    expect(through).toEqual(direct);
    // It did go through the server: the refused hold is in the server's log.
    expect(server!.logged.join('\n')).toContain(
      'control command command=queue.hold queueid=ffffffffffffffff result=NOT_FOUND',
    );
  });

  it('holds, releases and flushes through the running server, with the same output as on the spool', async () => {
    const { queue, logged } = await startServer();
    const held = await homing('queue', 'hold', second, '--config', config, '--json');
    expect(held).toEqual({ code: 0, stdout: `{"id":"${second}","held":true}\n`, stderr: '' });
    expect((await queue.inspect(second))?.held).toBe(true);
    const released = await homing('queue', 'release', second, '--config', config);
    expect(released.stdout).toBe(`released ${second}\n`);
    expect((await queue.inspect(second))?.held).toBe(false);
    expect(logged.filter((line) => line.includes(`queueid=${second} result=ok`))).toHaveLength(2);
    await stopServer();

    const heldDirect = await homing('queue', 'hold', second, '--config', config, '--json');
    expect(heldDirect).toEqual(held);
    const releasedDirect = await homing('queue', 'release', second, '--config', config);
    expect(releasedDirect).toEqual(released);
    const reopened = await openFileQueue({ spool: join(state, 'spool') });
    try {
      expect((await reopened.inspect(second))?.held).toBe(false);
    } finally {
      await reopened.close();
    }

    await startServer();
    const flushed = await homing('queue', 'flush', first, '--config', config, '--json');
    expect(JSON.parse(flushed.stdout)).toEqual({ rescheduled: expect.any(Number) });
    expect((await homing('queue', 'flush', '--config', config)).stdout).toMatch(/^rescheduled \d+ messages?\n$/);
  });

  it('works on the spool when the server crashed and left its socket file behind', async () => {
    const child = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(control)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(child.signal).toBe('SIGKILL');
    const listed = await homing('queue', 'list', '--config', config, '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).messages.map((m: { id: string }) => m.id)).toEqual([first, second]);
    await rm(control);
  });

  it('still finds the socket and spool when the config is wrong elsewhere, and says so', async () => {
    const broken = join(dir, 'broken.yml');
    await writeFile(broken, configText('colour: blue'));
    await startServer();
    const listed = await homing('queue', 'list', '--config', broken, '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).messages).toHaveLength(2);
    expect(listed.stderr).toBe(
      `homing: warning: ${broken} has errors (see homing config check ${broken}); using its control socket and spool anyway\n`,
    );
  });

  it('says what to do without a config, and refuses --config with --spool', async () => {
    const none = await homing('queue', 'list', '--config', join(dir, 'none.yml'));
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      `homing: no config file ${join(dir, 'none.yml')}: pass --config FILE (the one the server runs on), or --spool DIR to work on a spool directly\n`,
    );
    const both = await homing('queue', 'list', '--config', config, '--spool', join(state, 'spool'));
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^homing: give --config FILE \(through the server\) or --spool DIR/);
  });

  it('keeps --spool DIR working beside a running server for reading', async () => {
    await startServer();
    const listed = await homing('queue', 'list', '--spool', join(state, 'spool'), '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).messages).toHaveLength(2);
  });
});

/** True when @homing/queue locks its spool (a second open of a held spool fails with LOCKED). */
async function queueLocksItsSpool(): Promise<boolean> {
  const spool = await mkdtemp(join(tmpdir(), 'homing-queue-lock-'));
  const one = await openFileQueue({ spool });
  try {
    const two = await openFileQueue({ spool }).catch((error: unknown) => error);
    if ((two as { code?: unknown }).code === 'LOCKED') return true;
    await (two as Queue).close?.();
    return false;
  } finally {
    await one.close();
    await rm(spool, { recursive: true, force: true });
  }
}

describe('homing queue beside a process that holds the spool', { timeout: 180_000 }, async () => {
  const locks = await queueLocksItsSpool();
  if (!locks) console.log('skipping the spool lock tests: this @homing/queue does not lock its spool yet (no LOCKED)');

  it.skipIf(!locks)('says in plain words that the spool is in use, and still lists it read-only', async () => {
    const holder = await openFileQueue({ spool: join(state, 'spool') });
    try {
      const spool = join(state, 'spool');
      const hold = await homing('queue', 'hold', first, '--spool', spool);
      expect(hold.code).toBe(1);
      expect(hold.stderr).toBe(
        `homing: the spool ${spool} is in use by another process, most likely a running homing server; run the command with --config FILE to go through the server\n`,
      );
      const viaConfig = await homing('queue', 'hold', first, '--config', config);
      expect(viaConfig.stderr).toMatch(/in use by another process.*nothing answers on its control socket/);
      const listed = await homing('queue', 'list', '--config', config, '--json');
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout).messages).toHaveLength(2);
    } finally {
      await holder.close();
    }
  });
});

describe('homing reload', { timeout: 180_000 }, () => {
  it('asks the running server to reload and prints that it did', async () => {
    const { logged } = await startServer();
    reloads = 0;
    const done = await homing('reload', '--config', config);
    expect(done).toEqual({ code: 0, stdout: `the server reloaded ${config} and its certificates\n`, stderr: '' });
    expect((await homing('reload', '--config', config, '--json')).stdout).toBe('{"reloaded":true}\n');
    expect(reloads).toBe(2);
    expect(logged.filter((line) => line.includes('control command command=reload result=ok'))).toHaveLength(2);
  });

  it("exits 1 with the server's error when the new config is bad", async () => {
    await startServer();
    reloadAnswer = {
      ok: false,
      error: `${config}:3:14: tls.cert: file /nope.pem does not exist; give the path of a PEM certificate`,
    };
    const refused = await homing('reload', '--config', config);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `homing: the server refused the new config and keeps running on the old one:\n${config}:3:14: tls.cert: file /nope.pem does not exist; give the path of a PEM certificate\n`,
    );
  });

  it('exits 3 with a clear message when no server runs', async () => {
    const none = await homing('reload', '--config', config);
    expect(none).toEqual({
      code: 3,
      stdout: '',
      stderr: `homing: no server is running: nothing answers on its control socket ${control} (start it with homing start --config ${config})\n`,
    });
  });
});
