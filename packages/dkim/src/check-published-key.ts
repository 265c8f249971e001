// Does the key record in DNS match our private key? (RFC 6376 3.6.1 record, 6.1.2 how verifiers read it)
import { createPublicKey, type KeyObject } from 'node:crypto';
import { keyRecordName, normalizeDomain, normalizeSelector } from './internal/dns-name';
import { parseTagList } from './internal/key-record';
import { loadPrivateKey, publicKeyBytes } from './internal/private-key';
import { describeKey } from './keys';

/**
 * The part of a resolver this check needs (the `@homing/dns` Resolver fits): `resolveTxt` resolves to
 * the TXT records (character-strings joined) or rejects with an error whose `code` is 'NXDOMAIN',
 * 'NODATA', 'SERVFAIL', 'TIMEOUT', ...
 */
export interface TxtResolver {
  resolveTxt(name: string, options?: { signal?: AbortSignal }): Promise<{ records: readonly string[] }>;
}

/** The verdict on a published key. */
export type PublishedKeyStatus = 'ok' | 'testing' | 'missing' | 'malformed' | 'wrong-key' | 'revoked' | 'dns-failure';

/** What checkPublishedKey found, and what to publish. */
export interface PublishedKeyReport {
  status: PublishedKeyStatus;
  /** The DNS name looked up: `<selector>._domainkey.<domain>`. */
  name: string;
  /** The record found (when there was exactly one). */
  found?: string;
  /** The TXT value that matches the private key. */
  expected: string;
  /** One sentence for people: what is wrong and what to do (or that all is well). */
  detail: string;
  /** The resolver's error code, for 'dns-failure' and 'missing'. */
  dnsCode?: string;
}

/** Input of checkPublishedKey. */
export interface CheckPublishedKeyOptions {
  domain: string;
  selector: string;
  privateKey: string | Uint8Array | KeyObject;
  signal?: AbortSignal;
}

/** Looks up the key record of (domain, selector) and says whether it matches the private key. */
export async function checkPublishedKey(
  options: CheckPublishedKeyOptions,
  resolver: TxtResolver,
): Promise<PublishedKeyReport> {
  const name = keyRecordName(normalizeSelector(options.selector), normalizeDomain(options.domain));
  const loaded = loadPrivateKey(options.privateKey);
  const expected = describeKey(loaded.key).record;
  const report = (status: PublishedKeyStatus, detail: string, extra: Partial<PublishedKeyReport> = {}) => ({
    status,
    name,
    expected,
    detail,
    ...extra,
  });
  let records: readonly string[];
  try {
    ({ records } = await resolver.resolveTxt(name, options.signal ? { signal: options.signal } : undefined));
  } catch (error) {
    const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'UNKNOWN';
    if (code === 'NXDOMAIN' || code === 'NODATA') {
      return report('missing', `no TXT record at ${name}: publish "${expected}"`, { dnsCode: code });
    }
    const message = error instanceof Error ? error.message : String(error);
    return report('dns-failure', `the lookup of ${name} failed (${code}: ${message}); try again later`, {
      dnsCode: code,
    });
  }
  if (records.length === 0) return report('missing', `no TXT record at ${name}: publish "${expected}"`);
  if (records.length > 1) {
    return report(
      'malformed',
      `${name} has ${records.length} TXT records; verifiers need exactly one: keep "${expected}"`,
    );
  }
  const found = records[0]!;
  const verdict = judgeRecord(found, loaded.algorithm, publicKeyBytes(loaded));
  const fix = `publish "${expected}" at ${name}`;
  switch (verdict.status) {
    case 'malformed':
      return report('malformed', `the record at ${name} is malformed: ${verdict.reason}; ${fix}`, { found });
    case 'revoked':
      return report(
        'revoked',
        `the record at ${name} has an empty p=, which revokes the key (RFC 6376 3.6.1); ${fix}`,
        {
          found,
        },
      );
    case 'wrong-key':
      return report('wrong-key', `the record at ${name} holds ${verdict.reason}, not this private key's; ${fix}`, {
        found,
      });
    case 'testing':
      return report(
        'testing',
        `the record at ${name} matches, but t=y marks it as testing: verifiers may ignore failures; drop t=y when ready`,
        { found },
      );
    default:
      return report('ok', `the record at ${name} matches the private key`, { found });
  }
}

type Verdict = { status: 'ok' | 'testing' | 'revoked' } | { status: 'malformed' | 'wrong-key'; reason: string };

function judgeRecord(text: string, algorithm: 'rsa' | 'ed25519', ours: Buffer): Verdict {
  const parsed = parseTagList(text);
  if (typeof parsed === 'string') return { status: 'malformed', reason: parsed };
  const { tags } = parsed;
  const version = tags.get('v');
  if (version !== undefined && version !== 'DKIM1') return { status: 'malformed', reason: `v=${version} is not DKIM1` };
  if (version !== undefined && [...tags.keys()][0] !== 'v') {
    return { status: 'malformed', reason: 'v= must be the first tag' };
  }
  const keyType = (tags.get('k') ?? 'rsa').toLowerCase();
  if (keyType !== 'rsa' && keyType !== 'ed25519')
    return { status: 'malformed', reason: `k=${keyType} is not a known key type` };
  const hashes = tags.get('h');
  if (hashes !== undefined && !hashes.split(':').some((hash) => hash.trim().toLowerCase() === 'sha256')) {
    return { status: 'malformed', reason: `h=${hashes} does not allow sha256` };
  }
  const services = tags.get('s');
  if (services !== undefined && !services.split(':').some((s) => ['*', 'email'].includes(s.trim().toLowerCase()))) {
    return { status: 'malformed', reason: `s=${services} does not allow email` };
  }
  const p = tags.get('p');
  if (p === undefined) return { status: 'malformed', reason: 'it has no p= tag' };
  const base64 = p.replace(/[ \t\r\n]+/g, '');
  if (base64 === '') return { status: 'revoked' };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return { status: 'malformed', reason: 'p= is not base64' };
  if (keyType !== algorithm) return { status: 'wrong-key', reason: `a k=${keyType} key` };
  const published = decodePublicKey(Buffer.from(base64, 'base64'), keyType);
  if (!published) return { status: 'malformed', reason: `p= is not a valid ${keyType} public key` };
  if (!published.equals(ours)) return { status: 'wrong-key', reason: 'another public key' };
  const flags = (tags.get('t') ?? '').split(':').map((flag) => flag.trim().toLowerCase());
  return flags.includes('y') ? { status: 'testing' } : { status: 'ok' };
}

// Normalises the published key to the form publicKeyBytes gives, so the two compare byte for byte.
function decodePublicKey(bytes: Buffer, keyType: 'rsa' | 'ed25519'): Buffer | undefined {
  if (keyType === 'ed25519') return bytes.length === 32 ? bytes : undefined;
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      return createPublicKey({ key: bytes, format: 'der', type }).export({ format: 'der', type: 'spki' });
    } catch {
      // try the next encoding: some publish PKCS#1 RSAPublicKey instead of SPKI
    }
  }
  return undefined;
}
