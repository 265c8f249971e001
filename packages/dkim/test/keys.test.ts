import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeKey, generateKey, isDkimError, keyRecordNameFor, parsePrivateKey } from '../src/index';

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isDkimError(error)) return error;
    throw error;
  }
  throw new Error('expected a DkimError');
}

describe('generateKey', () => {
  it('makes a 2048-bit RSA key by default and the record that publishes it', () => {
    const key = generateKey();
    expect(key.algorithm).toBe('rsa');
    expect(key.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const info = describeKey(key.privateKey);
    expect(info.bits).toBe(2048);
    expect(key.record).toBe(`v=DKIM1; k=rsa; p=${info.publicKey}`);
    const spki = createPublicKey(key.privateKey).export({ format: 'der', type: 'spki' });
    expect(Buffer.from(info.publicKey, 'base64')).toEqual(spki);
    expect(key.recordStrings.join('')).toBe(key.record);
    for (const part of key.recordStrings) expect(part.length).toBeLessThanOrEqual(255);
    expect(key.recordStrings.length).toBe(2);
  });

  it('makes an Ed25519 key whose p= is the raw 32-byte public key (RFC 8463 4)', () => {
    const key = generateKey({ algorithm: 'ed25519' });
    const p = /p=(.*)$/.exec(key.record)![1]!;
    expect(key.record).toMatch(/^v=DKIM1; k=ed25519; p=/);
    expect(Buffer.from(p, 'base64')).toHaveLength(32);
    const spki = createPublicKey(key.privateKey).export({ format: 'der', type: 'spki' });
    expect(spki.subarray(-32)).toEqual(Buffer.from(p, 'base64'));
  });

  it('refuses sizes outside 1024-4096 bits and unknown algorithms', () => {
    expect(errorOf(() => generateKey({ bits: 512 })).code).toBe('INVALID_OPTION');
    // biome-ignore lint/suspicious/noExplicitAny: an invalid value on purpose
    expect(errorOf(() => generateKey({ algorithm: 'dsa' as any })).code).toBe('INVALID_OPTION');
  });
});

describe('parsePrivateKey', () => {
  it('reads PKCS#8 PEM, PKCS#1 PEM, DER and the base64 Ed25519 seed of RFC 8463', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(parsePrivateKey(rsa.export({ format: 'pem', type: 'pkcs1' }).toString()).asymmetricKeyType).toBe('rsa');
    expect(parsePrivateKey(rsa.export({ format: 'der', type: 'pkcs8' })).asymmetricKeyType).toBe('rsa');
    const seed = 'nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=';
    const key = parsePrivateKey(`${seed}\n`);
    const raw = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    expect(raw).toBe('11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=');
    const signature = Buffer.from('x');
    expect(verify(null, signature, createPublicKey(key), sign(null, signature, key))).toBe(true);
  });

  it('says when a key is encrypted, and names the file', () => {
    const pem = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      privateKeyEncoding: { format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' },
      publicKeyEncoding: { format: 'pem', type: 'spki' },
    }).privateKey;
    const error = errorOf(() => parsePrivateKey(pem, '/etc/homing/dkim.pem'));
    expect(error.code).toBe('KEY_ENCRYPTED');
    expect(error.message).toContain('/etc/homing/dkim.pem');
    expect(error.message).toMatch(/decrypt/);
  });

  it('says when a key is malformed', () => {
    const broken = '-----BEGIN PRIVATE KEY-----\nMIIBroken==\n-----END PRIVATE KEY-----\n';
    const error = errorOf(() => parsePrivateKey(broken, 'key.pem'));
    expect(error.code).toBe('KEY_MALFORMED');
    expect(error.message).toContain('key.pem');
    expect(errorOf(() => parsePrivateKey('hello')).code).toBe('KEY_MALFORMED');
  });

  it('refuses EC keys, public keys and RSA keys under 1024 or over 4096 bits', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect(errorOf(() => parsePrivateKey(ec.toString())).code).toBe('KEY_UNSUPPORTED');
    const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pub = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(errorOf(() => parsePrivateKey(pub)).code).toBe('KEY_UNSUPPORTED');
    const small = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey;
    const error = errorOf(() => parsePrivateKey(small));
    expect(error.code).toBe('KEY_UNSUPPORTED');
    expect(error.message).toMatch(/512 bits/);
  });
});

describe('keyRecordNameFor', () => {
  it('builds selector._domainkey.domain, with IDNs in A-labels', () => {
    expect(keyRecordNameFor('Example.COM', 'mail2026')).toBe('mail2026._domainkey.example.com');
    expect(keyRecordNameFor('bücher.example', 's1')).toBe('s1._domainkey.xn--bcher-kva.example');
  });

  it('refuses names that are not DNS names', () => {
    expect(errorOf(() => keyRecordNameFor('exa mple.com', 's')).code).toBe('INVALID_DOMAIN');
    expect(errorOf(() => keyRecordNameFor('-bad.example', 's')).code).toBe('INVALID_DOMAIN');
    expect(errorOf(() => keyRecordNameFor('example.com', '')).code).toBe('INVALID_SELECTOR');
    expect(errorOf(() => keyRecordNameFor('example.com', 'x'.repeat(64))).code).toBe('INVALID_SELECTOR');
  });
});
