// Exactly once under real crashes: the worker runs in a child process that is killed with SIGKILL
// at random instants, and restarted, until the queue is empty. Every (message, recipient) must then
// have exactly one Maildir file, whatever instant the kills hit (between the rename and the settle
// included). Each kill comes after a random number of settled deliveries (the seed is printed).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileQueue } from '@homing/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporaryDirectory } from './helpers';

const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const MESSAGES = 300;
const users = ['alice', 'bob', 'carol', 'dave'];

let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  dir = await temporaryDirectory('local-delivery-crash');
});
afterAll(() => dir.remove());

/**
 * Runs the child until it drains the queue, or kills it `ms` after it has logged `lines` deliveries
 * (each line comes after its settle: the deliveries in flight then are the ones the kill hits).
 */
function runChild(
  killAfter: { lines: number; ms: number } | undefined,
): Promise<{ drained: boolean; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(
      process.execPath,
      ['--import', 'tsx', child, join(dir.path, 'spool'), join(dir.path, 'mail')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    let killed = false;
    process_.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (killAfter !== undefined && !killed && output.split('"event":"local"').length - 1 >= killAfter.lines) {
        killed = true;
        setTimeout(() => process_.kill('SIGKILL'), killAfter.ms);
      }
    });
    process_.on('error', reject);
    process_.on('exit', () => {
      const lines = output.split('\n').filter(Boolean);
      resolve({ drained: lines.includes('drained'), lines });
    });
  });
}

describe('local delivery under SIGKILL', () => {
  it('delivers every recipient exactly once across random kills and restarts', { timeout: 240_000 }, async () => {
    const queue = await openFileQueue({ spool: join(dir.path, 'spool') });
    const expected = new Map<string, string>(); // "id recipient" -> sha256 of the queued bytes
    for (let i = 0; i < MESSAGES; i += 1) {
      const recipients = users.filter((_, u) => (i + u) % 3 !== 0).map((u) => `${u}@example.org`);
      const body = Buffer.from(`Subject: crash ${i}\r\n\r\n${'x'.repeat(i * 37)}\r\n`);
      const { id } = await queue.enqueue({ sender: 'zoe@example.net', recipients }, body);
      for (const r of recipients) expected.set(`${id} ${r}`, createHash('sha256').update(body).digest('hex'));
    }
    await queue.close();

    const seed = Date.now();
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    console.log(`crash test seed ${seed}`);
    let kills = 0;
    let duplicatesFound = 0;
    const secondCopies: string[] = [];
    let drained = false;
    for (let round = 0; round < 40 && !drained; round += 1) {
      const kill = { lines: 1 + Math.floor(random() * 40), ms: Math.floor(random() * 15) };
      const result = await runChild(round < 30 ? kill : undefined);
      drained = result.drained;
      if (!drained) kills += 1;
      for (const line of result.lines) if (line.includes('"duplicate":true')) duplicatesFound += 1;
      // Between runs the user reads the mail: Dovecot moves it from new/ to cur/ with flags. The
      // same name in new/ would simply be replaced by a second write; in cur/ only the check finds it.
      for (const user of users) {
        const maildir = join(dir.path, 'mail', 'example.org', user);
        const seen = new Set(await readdir(join(maildir, 'cur')).catch(() => []));
        for (const name of await readdir(join(maildir, 'new')).catch(() => [])) {
          // A second copy of a message the user already read would be renamed over the first: count it.
          if (seen.has(`${name}:2,S`)) secondCopies.push(`${user} ${name}`);
          await rename(join(maildir, 'new', name), join(maildir, 'cur', `${name}:2,S`));
        }
      }
    }
    console.log(`${kills} kills; ${duplicatesFound} deliveries found already written by a killed run`);
    expect(drained).toBe(true);
    expect(secondCopies).toEqual([]);
    expect(kills).toBeGreaterThan(0);

    const found = new Map<string, number>();
    for (const user of users) {
      const maildir = join(dir.path, 'mail', 'example.org', user);
      for (const sub of ['new', 'cur']) {
        for (const name of await readdir(join(maildir, sub))) {
          const id = /\.Q([0-9a-f]{16})\./.exec(name)?.[1];
          const key = `${id} ${user}@example.org`;
          found.set(key, (found.get(key) ?? 0) + 1);
          const content = await readFile(join(maildir, sub, name));
          const header = `Return-Path: <zoe@example.net>\r\nDelivered-To: ${user}@example.org\r\n`;
          expect(content.subarray(0, header.length).toString()).toBe(header);
          const digest = createHash('sha256').update(content.subarray(header.length)).digest('hex');
          expect(digest, key).toBe(expected.get(key));
        }
      }
    }
    expect([...found.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(found.size).toBe(expected.size);
    // Some kill must have hit a delivery between its rename and its settle, or this proved nothing.
    expect(duplicatesFound).toBeGreaterThan(0);
  });
});
