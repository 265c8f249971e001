import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '@homing/dkim';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDkimKeys } from '../../src/server/dkim/dkim-keys';

// The DKIM keys of `homing start`: generated once under {state}/dkim with the record beside them,
// read back on the next start, or taken from the configured file (and checked).

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function state(): string {
  const dir = mkdtempSync(join(tmpdir(), 'homing-dkim-keys-'));
  dirs.push(dir);
  return dir;
}

describe('loadDkimKeys', () => {
  it('generates rsa and ed25519 keys on first start and reads the same ones on the next', async () => {
    const dir = state();
    const config = {
      state: dir,
      domains: ['example.org'],
      dkim: { 'example.org': { selector: 'homing', ed25519: { selector: 'homing-ed25519' } } },
    };
    const first = await loadDkimKeys(config);
    expect(first.keys.map((k) => [k.selector, k.algorithm, k.generated])).toEqual([
      ['homing', 'rsa', true],
      ['homing-ed25519', 'ed25519', true],
    ]);
    expect(statSync(join(dir, 'dkim', 'example.org.homing.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'dkim', 'example.org.homing-ed25519.txt'), 'utf8')).toContain(first.keys[1]!.record);
    const second = await loadDkimKeys(config);
    expect(second.keys.map((k) => k.generated)).toEqual([false, false]);
    expect(second.keys.map((k) => k.record)).toEqual(first.keys.map((k) => k.record));
    expect(second.signaturesFor('EXAMPLE.ORG')?.map((s) => s.selector)).toEqual(['homing', 'homing-ed25519']);
    expect(second.signaturesFor('other.example')).toBeUndefined();
  });

  it('uses a configured key, and says what is wrong with a missing one or one of the wrong type', async () => {
    const dir = state();
    const rsa = join(dir, 'rsa.pem');
    const { privateKey, record } = generateKey({ algorithm: 'rsa' });
    writeFileSync(rsa, privateKey);
    const loaded = await loadDkimKeys({
      state: dir,
      domains: ['example.org'],
      dkim: { 'example.org': { selector: 'mail', key: rsa } },
    });
    expect(loaded.keys[0]).toMatchObject({ selector: 'mail', generated: false, record });
    await expect(
      loadDkimKeys({
        state: dir,
        domains: ['example.org'],
        dkim: { 'example.org': { selector: 'mail', key: join(dir, 'none.pem') } },
      }),
    ).rejects.toThrow(/cannot read the DKIM key of example\.org at .*none\.pem/);
    await expect(
      loadDkimKeys({
        state: dir,
        domains: ['example.org'],
        dkim: { 'example.org': { selector: 'mail', key: rsa, ed25519: { selector: 'ed', key: rsa } } },
      }),
    ).rejects.toThrow(/is rsa, not ed25519/);
  });
});
