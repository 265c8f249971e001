// `homing queue migrate` and `homing queue list` on a config with `queue: postgres://...`, with no
// server running: they work on the PostgreSQL queue directly. Each run gets a database of its own
// on the server of HOMING_TEST_POSTGRES (skipped with the reason printed where it is unset).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestSchemaVersion } from '@homing/queue/postgres';
import { certificateFiles, runHoming } from '@homing/test-peers';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const server = process.env.HOMING_TEST_POSTGRES;
if (!server) {
  if (process.env.CI === 'true') throw new Error('HOMING_TEST_POSTGRES is not set in CI: .ci/run starts PostgreSQL');
  console.warn('homing queue on PostgreSQL tests skipped: HOMING_TEST_POSTGRES is not set (see .ci/postgres.sh)');
}
const database = `homing_cli_${randomBytes(5).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'homing-queue-pg-cli-'));
const configPath = join(dir, 'homing.yml');
const cert = certificateFiles();

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  if (!server) return;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(server);
  url.pathname = `/${database}`;
  writeFileSync(join(dir, 'users'), '');
  writeFileSync(
    configPath,
    [
      'domain: example.org',
      'hostname: mx.example.org',
      `tls: { cert: ${cert.certPath}, key: ${cert.keyPath} }`,
      `users: ${join(dir, 'users')}`,
      `state: ${join(dir, 'state')}`,
      'postmaster: alice@example.org',
      `listen: { control: ${join(dir, 'control.sock')} }`,
      `queue: ${url.toString()}`,
    ].join('\n'),
  );
});
afterAll(async () => {
  if (server) await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(cert.certPath.replace(/\/[^/]+$/, ''), { recursive: true, force: true });
});

(server ? describe : describe.skip)('homing queue with queue: postgres://...', () => {
  it('migrates the schema once, then lists the queue from the database with no server running', async () => {
    const first = await runHoming(['queue', 'migrate', '--config', configPath, '--json']);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(first.stdout)).toEqual({ schema: 'homing_queue', from: 0, to: latestSchemaVersion });
    const again = await runHoming(['queue', 'migrate', '--config', configPath]);
    expect(again.stdout).toContain(`is at version ${latestSchemaVersion}, nothing to do`);
    expect(again.stdout).not.toContain(':***@'); // no password in this URL, nothing to hide
    const list = await runHoming(['queue', 'list', '--config', configPath]);
    expect({ code: list.code, stdout: list.stdout.trim() }).toEqual({ code: 0, stdout: 'the queue is empty' });
  }, 30_000);
});
