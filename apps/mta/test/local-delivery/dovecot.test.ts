// Dovecot itself reads the Maildirs we write: a throw-away Dovecot (no protocols, no network
// listener: only its auth service on unix sockets in a temp dir) with
// `mail_location = maildir:{root}/%d/%n`, queried with doveadm. Then Dovecot renames a file
// (flags), and a second delivery of the same (message, recipient) still finds it.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openFileQueue } from '@homing/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDeliveryWorker } from '../../src/server/local-delivery/local-delivery-worker';
import { createMaildirStore } from '../../src/server/local-delivery/maildir';
import { eventually, names, recordingLog, recordingMetrics, temporaryDirectory } from './helpers';

const run = promisify(execFile);
const hasDovecot = spawnSync('doveadm', ['help'], { stdio: 'ignore' }).error === undefined;
if (!hasDovecot)
  console.log(
    'dovecot.test.ts skipped: doveadm not found (Debian package dovecot-core, installed by .ci/install-peers.sh)',
  );

let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
let dovecot: ChildProcess | undefined;
let config = '';
// Dovecot refuses mail access as uid 0: as root, the mail is handed to nobody before it reads it.
const uid = process.getuid?.() === 0 ? 65534 : (process.getuid?.() ?? 65534);
const gid = process.getuid?.() === 0 ? 65534 : (process.getgid?.() ?? 65534);

async function handOver(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await chmod(dir.path, 0o755); // mkdtemp makes it 700: nobody could not reach the mail below it
  await run('chown', ['-R', `${uid}:${gid}`, path]);
}

const doveadm = async (...args: string[]) => {
  const { stdout, stderr } = await run('doveadm', ['-c', config, ...args]);
  return { stdout, stderr };
};

describe.skipIf(!hasDovecot)('Dovecot reads the Maildirs', () => {
  beforeAll(async () => {
    dir = await temporaryDirectory('dovecot');
    const root = join(dir.path, 'mail');
    await mkdir(join(dir.path, 'run'));
    await mkdir(join(dir.path, 'home'));
    await chown(join(dir.path, 'home'), uid, gid).catch(() => undefined);
    config = join(dir.path, 'dovecot.conf');
    await writeFile(
      config,
      [
        'protocols =',
        'listen = 127.0.0.1',
        `base_dir = ${join(dir.path, 'run')}`,
        `state_dir = ${join(dir.path, 'run')}`,
        'log_path = /dev/stderr',
        `mail_location = maildir:${root}/%d/%n`,
        'ssl = no',
        'first_valid_uid = 1',
        `userdb {\n  driver = static\n  args = uid=${uid} gid=${gid} home=${join(dir.path, 'home')}/%d/%n\n}`,
        'passdb {\n  driver = static\n  args = nopassword=y\n}',
        '',
      ].join('\n'),
    );
    dovecot = spawn('dovecot', ['-c', config, '-F'], { stdio: ['ignore', 'ignore', 'pipe'] });
    await eventually(async () => (await names(join(dir.path, 'run'))).includes('auth-userdb'), 20_000);
  }, 30_000);
  afterAll(async () => {
    if (dovecot?.pid !== undefined) {
      const exited = new Promise((resolve) => dovecot?.once('exit', resolve));
      dovecot.kill('SIGTERM');
      await exited;
    }
    await dir?.remove();
  });

  it('lists INBOX and Junk and fetches each message with its headers, sizes accepted', {
    timeout: 60_000,
  }, async () => {
    const root = join(dir.path, 'mail');
    const queue = await openFileQueue({ spool: join(dir.path, 'spool') });
    const message = (subject: string) =>
      `Received: from client.example.net by mx.example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.net>\r\n\r\nHello ${subject}\r\n`;
    const inbox = await queue.enqueue(
      { sender: 'zoe@example.net', recipients: ['alice@example.org'] },
      Buffer.from(message('inbox')),
    );
    const inboxCreatedAt = (await queue.inspect(inbox.id))?.createdAt ?? 0;
    const junk = await queue.enqueue(
      { sender: 'spam@example.net', recipients: ['alice@example.org'], attributes: { folder: 'Junk' } },
      Buffer.from(message('junk')),
    );
    const store = createMaildirStore({ root, hostname: 'mx.example.org' });
    const worker = startLocalDeliveryWorker({
      queue,
      domains: ['example.org'],
      store,
      log: recordingLog(),
      metrics: recordingMetrics(),
    });
    await eventually(async () => (await queue.list()).length === 0);
    await worker.stop();
    await handOver(root);

    const list = await doveadm('mailbox', 'list', '-u', 'alice@example.org');
    expect(list.stderr).toBe('');
    expect(list.stdout.split('\n').filter(Boolean).sort()).toEqual(['INBOX', 'Junk']);
    const fetched = await doveadm(
      'fetch',
      '-u',
      'alice@example.org',
      'mailbox hdr.subject hdr.return-path size.physical',
      'ALL',
    );
    // Dovecot checks the S= of each name against the file; a wrong size is an error on stderr.
    expect(fetched.stderr).toBe('');
    expect(fetched.stdout).toContain('mailbox: INBOX\nhdr.subject: inbox\nhdr.return-path: <zoe@example.net>');
    expect(fetched.stdout).toContain('mailbox: Junk\nhdr.subject: junk\nhdr.return-path: <spam@example.net>');
    // size.physical is what Dovecot took from our `,S=`: it must be the file's real size.
    const sizes = [...fetched.stdout.matchAll(/size\.physical: (\d+)/g)].map((m) => Number(m[1])).sort();
    const maildirOfAlice = join(root, 'example.org', 'alice');
    const onDisk: number[] = [];
    for (const folder of [maildirOfAlice, join(maildirOfAlice, '.Junk')]) {
      for (const name of await names(join(folder, 'new'))) onDisk.push((await stat(join(folder, 'new', name))).size);
    }
    expect(sizes).toEqual(onDisk.sort());

    // Dovecot renames the file when a flag is set (`:2,S`); delivering the same message again
    // (as after a crash before the settle) finds it and writes nothing.
    await doveadm('flags', 'add', '-u', 'alice@example.org', '\\Seen', 'mailbox', 'INBOX', 'ALL');
    const maildir = join(root, 'example.org', 'alice');
    const renamed = [...(await names(join(maildir, 'new'))), ...(await names(join(maildir, 'cur')))];
    expect(renamed).toHaveLength(1);
    expect(renamed[0]).toMatch(/:2,S$/);
    const again = await store.deliver({
      queueId: inbox.id,
      recipient: 'alice@example.org',
      folder: 'INBOX',
      sender: 'zoe@example.net',
      createdAt: inboxCreatedAt,
      body: [Buffer.from(message('inbox'))],
    });
    expect(again.alreadyDelivered).toBe(true);
    const count = await doveadm('search', '-u', 'alice@example.org', 'mailbox', 'INBOX', 'ALL');
    expect(count.stdout.trim().split('\n')).toHaveLength(1);
    expect(junk.id).not.toBe(inbox.id);
    await queue.close();
  });
});
