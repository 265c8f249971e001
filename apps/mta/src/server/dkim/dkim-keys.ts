// The DKIM keys of our domains, loaded when the server starts (and on reload): the configured PEM
// file, or one generated on first start at {state}/dkim/{domain}.{selector}.key with the TXT record
// to publish beside it in {domain}.{selector}.txt. Generation writes, fsyncs and renames (never
// over an existing key), so a crash never leaves half a key that a later start would sign with.

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignatureOptions } from '@homing/dkim';
import { describeKey, generateKey, type KeyAlgorithm, keyRecordNameFor, parsePrivateKey } from '@homing/dkim';
import type { Config, DkimKeyConfig } from '../../config/config-types';

/** One loaded key: what the signer needs, and what to publish. */
export interface LoadedDkimKey {
  domain: string;
  selector: string;
  algorithm: KeyAlgorithm;
  /** The PEM file it came from. */
  file: string;
  /** True when this start generated it (the record still has to be published). */
  generated: boolean;
  /** The TXT record value, e.g. `v=DKIM1; k=rsa; p=...`. */
  record: string;
  privateKey: KeyObject;
}

/** Our domains' keys: the signatures to make for a domain (rsa first, then ed25519 when asked). */
export interface DkimKeys {
  keys: LoadedDkimKey[];
  /** The signatures for mail from `domain`, or undefined when it is not ours. */
  signaturesFor(domain: string): SignatureOptions[] | undefined;
}

/** The zone-file line of a key's record, strings cut at 255 octets (RFC 1035 3.3.14). */
export function zoneLine(key: { domain: string; selector: string; record: string }): string {
  const strings = key.record.match(/.{1,255}/g) ?? [];
  return `${keyRecordNameFor(key.domain, key.selector)}. IN TXT ${strings.map((s) => `"${s}"`).join(' ')}`;
}

async function writeDurably(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the key at `entry.key`, or the generated one, generating it when it does not exist yet. */
async function loadKey(
  state: string,
  domain: string,
  entry: DkimKeyConfig,
  algorithm: KeyAlgorithm,
): Promise<LoadedDkimKey> {
  const directory = join(state, 'dkim');
  const file = entry.key ?? join(directory, `${domain}.${entry.selector}.key`);
  let pem: string | undefined;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || entry.key !== undefined) {
      throw new Error(`cannot read the DKIM key of ${domain} at ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  let generated = false;
  if (pem === undefined) {
    const fresh = generateKey({ algorithm });
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const txt = join(directory, `${domain}.${entry.selector}.txt`);
    // The record first: a key without its record beside it would leave the operator guessing.
    await writeDurably(txt, `${zoneLine({ domain, selector: entry.selector, record: fresh.record })}\n`, 0o644);
    try {
      await writeDurably(file, fresh.privateKey, 0o600);
    } catch (error) {
      await rm(txt, { force: true });
      throw error;
    }
    await syncDirectory(directory);
    pem = fresh.privateKey;
    generated = true;
  }
  const privateKey = parsePrivateKey(pem, file);
  const described = describeKey(privateKey, file);
  if (described.algorithm !== algorithm) {
    throw new Error(`the DKIM key of ${domain} at ${file} is ${described.algorithm}, not ${algorithm}`);
  }
  return {
    domain,
    selector: entry.selector,
    algorithm,
    file,
    generated,
    record: described.record,
    privateKey,
  };
}

/** Loads (or generates) the keys of every one of our domains. */
export async function loadDkimKeys(config: Pick<Config, 'state' | 'domains' | 'dkim'>): Promise<DkimKeys> {
  const keys: LoadedDkimKey[] = [];
  const byDomain = new Map<string, SignatureOptions[]>();
  for (const domain of config.domains) {
    const entry = config.dkim[domain] ?? { selector: 'homing' };
    const loaded = [await loadKey(config.state, domain, entry, 'rsa')];
    if (entry.ed25519 !== undefined) loaded.push(await loadKey(config.state, domain, entry.ed25519, 'ed25519'));
    keys.push(...loaded);
    byDomain.set(
      domain,
      loaded.map((key) => ({ domain, selector: key.selector, privateKey: key.privateKey })),
    );
  }
  return {
    keys,
    signaturesFor: (domain) => byDomain.get(domain.toLowerCase()),
  };
}
