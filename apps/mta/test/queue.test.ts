import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileQueue } from '@homing/queue';
import { runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let spool = '';
let first = '';
let second = '';
beforeAll(async () => {
  spool = await mkdtemp(join(tmpdir(), 'homing-cli-queue-'));
  const queue = await openFileQueue({ spool });
  first = (
    await queue.enqueue(
      { sender: 'alice@example.org', recipients: ['bob@example.net', 'carol@example.com'] },
      Buffer.from('Subject: one\r\n\r\nhi\r\n'),
    )
  ).id;
  second = (await queue.enqueue({ sender: 'dave@example.org', recipients: ['erin@example.com'] }, Buffer.from('x'))).id;
  const [claim] = await queue.claim({ domain: 'example.net' });
  await queue.settle(claim!.leaseId, [{ recipient: 'bob@example.net', status: 'deferred', reply: '451 4.7.1 later' }]);
  await queue.close();
});
afterAll(async () => {
  if (spool !== '') await rm(spool, { recursive: true, force: true });
});

const homing = (args: string[], env: NodeJS.ProcessEnv = {}) => runHoming(args, { env });

function json(stdout: string) {
  expect(stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(stdout);
}

describe('homing queue', { timeout: 30_000 }, () => {
  it('lists messages as one JSON object on one line, with filters', async () => {
    const all = await homing(['queue', 'list', '--spool', spool, '--json']);
    expect(all.code).toBe(0);
    expect(json(all.stdout).messages.map((m: { id: string }) => m.id)).toEqual([first, second]);
    const deferred = json((await homing(['queue', 'list', '--spool', spool, '--json', '--state', 'deferred'])).stdout);
    expect(deferred.messages.map((m: { id: string }) => m.id)).toEqual([first]);
    const bySender = json(
      (await homing(['queue', 'list', '--spool', spool, '--json', '--sender', 'dave@example.org'])).stdout,
    );
    expect(bySender.messages.map((m: { id: string }) => m.id)).toEqual([second]);
    const byDomain = json(
      (await homing(['queue', '--spool', spool, 'list', '--json', '--domain', 'example.net'])).stdout,
    );
    expect(byDomain.messages.map((m: { id: string }) => m.id)).toEqual([first]);
  });

  it('lists messages as readable lines', async () => {
    const { code, stdout } = await homing(['queue', 'list', '--spool', spool]);
    expect(code).toBe(0);
    expect(stdout).toContain(`${first} `);
    expect(stdout).toMatch(/1 deferred, 1 pending {2}<alice@example\.org> -> bob@example\.net carol@example\.com/);
  });

  it('shows one message with its envelope and per-recipient state', async () => {
    const shown = json((await homing(['queue', 'show', first, '--spool', spool, '--json'])).stdout);
    expect(shown).toMatchObject({
      id: first,
      sender: 'alice@example.org',
      recipients: [
        { address: 'bob@example.net', state: 'deferred', attempts: 1, reply: '451 4.7.1 later' },
        { address: 'carol@example.com', state: 'pending', attempts: 0 },
      ],
    });
    const text = await homing(['queue', 'show', first, '--spool', spool]);
    expect(text.stdout).toContain('recipient: bob@example.net deferred attempts 1');
  });

  it('holds and releases a message', async () => {
    expect(json((await homing(['queue', 'hold', second, '--spool', spool, '--json'])).stdout)).toEqual({
      id: second,
      held: true,
    });
    const held = json((await homing(['queue', 'list', '--spool', spool, '--json', '--state', 'held'])).stdout);
    expect(held.messages.map((m: { id: string }) => m.id)).toEqual([second]);
    const released = await homing(['queue', 'release', second, '--spool', spool]);
    expect(released.stdout.trim()).toBe(`released ${second}`);
    expect(json((await homing(['queue', 'show', second, '--spool', spool, '--json'])).stdout).held).toBe(false);
  });

  it('flushes deferred messages and removes a message', async () => {
    expect(json((await homing(['queue', 'flush', '--spool', spool, '--json'])).stdout)).toEqual({ rescheduled: 1 });
    expect(json((await homing(['queue', 'flush', first, '--spool', spool, '--json'])).stdout)).toEqual({
      rescheduled: 0,
    });
    expect((await homing(['queue', 'remove', second, '--spool', spool])).stdout.trim()).toBe(`removed ${second}`);
    const left = json((await homing(['queue', 'list', '--spool', spool, '--json'])).stdout);
    expect(left.messages.map((m: { id: string }) => m.id)).toEqual([first]);
  });

  it('reads the spool from HOMING_SPOOL', async () => {
    const { code, stdout } = await homing(['queue', 'list', '--json'], { HOMING_SPOOL: spool });
    expect(code).toBe(0);
    expect(json(stdout).messages).toHaveLength(1);
  });

  it('says what is wrong, without a stack trace, for a missing spool, an unknown id or a bad state', async () => {
    const env = { HOMING_SPOOL: '' };
    const cases: [string[], RegExp][] = [
      [
        ['queue', 'list', '--config', join(spool, 'none.yml')],
        /^homing: no config file .*none\.yml: pass --config FILE \(the one the server runs on\), or --spool DIR/,
      ],
      [['queue', 'list', '--spool', join(spool, 'nope')], /^homing: spool directory .* does not exist/],
      [
        ['queue', 'show', '0123456789abcdef', '--spool', spool],
        /^homing: no message 0123456789abcdef .*homing queue list/,
      ],
      [
        ['queue', 'hold', '0123456789abcdef', '--spool', spool],
        /^homing: no message 0123456789abcdef .*homing queue list/,
      ],
      [['queue', 'list', '--spool', spool, '--state', 'lost'], /^homing: --state must be one of pending, deferred/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await homing(args, env);
      expect(code).not.toBe(0);
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('warns on stderr about a damaged spool file and still lists the queue', async () => {
    const damaged = await mkdtemp(join(tmpdir(), 'homing-cli-queue-damaged-'));
    try {
      await mkdir(join(damaged, 'data'), { recursive: true });
      await writeFile(join(damaged, 'data', 'broken.batch'), 'not a batch file');
      const { code, stdout, stderr } = await homing(['queue', 'list', '--spool', damaged, '--json']);
      expect(code).toBe(0);
      expect(json(stdout)).toEqual({ messages: [] });
      expect(stderr).toMatch(/^homing: warning: damaged spool file data\/broken\.batch: .*\n$/);
    } finally {
      await rm(damaged, { recursive: true, force: true });
    }
  });

  it('documents every subcommand in --help', async () => {
    const { stdout } = await homing(['queue', '--help']);
    for (const name of ['list', 'show', 'hold', 'release', 'remove', 'flush']) expect(stdout).toContain(name);
  });
});
