// Our signatures must verify with mailauth's verifier and with dkimpy, the key served by the real
// loopback DNS server of @homing/dns: every algorithm x header c= x body c=, over the whole corpus.
import { execFile } from 'node:child_process';
import { Resolver as NodeResolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Canonicalization, describeKey, generateKey, signMessage } from '../src/index';
import { corpus } from './corpus';

const PYTHON = '/usr/bin/python3';
const DKIMPY_SCRIPT = fileURLToPath(new URL('./dkimpy-verify.py', import.meta.url));
const canonicalizations: Canonicalization[] = ['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple'];
const keys = {
  rsa: generateKey({ algorithm: 'rsa', bits: 2048 }),
  ed25519: generateKey({ algorithm: 'ed25519' }),
};
const DOMAIN = 'example.com';

interface Case {
  label: string;
  signed: Buffer;
}

const cases: Case[] = [];
for (const algorithm of ['rsa', 'ed25519'] as const) {
  for (const canonicalization of canonicalizations) {
    for (const { name, message } of corpus) {
      const { header } = signMessage(message, {
        signatures: [{ domain: DOMAIN, selector: algorithm, privateKey: keys[algorithm].privateKey, canonicalization }],
      });
      cases.push({
        label: `${algorithm} ${canonicalization} ${name}`,
        signed: Buffer.concat([Buffer.from(header), message]),
      });
    }
  }
}

// Several signatures in one pass: the author's domain with Ed25519 and an operator's with RSA, with t= and x=.
const multiMessage = corpus[2]!.message;
const multiSigned = Buffer.concat([
  Buffer.from(
    signMessage(multiMessage, {
      signatures: [
        { domain: DOMAIN, selector: 'ed25519', privateKey: keys.ed25519.privateKey, expiresInSeconds: 3600 },
        { domain: DOMAIN, selector: 'rsa', privateKey: keys.rsa.privateKey, canonicalization: 'simple/simple' },
      ],
    }).header,
  ),
  multiMessage,
]);

let server: DnsServer;
beforeAll(async () => {
  server = await startDnsServer({
    zones: {
      [DOMAIN]: { TXT: ['v=spf1 -all'] },
      [`rsa._domainkey.${DOMAIN}`]: { TXT: [describeKey(keys.rsa.privateKey).recordStrings] },
      [`ed25519._domainkey.${DOMAIN}`]: { TXT: [keys.ed25519.record] },
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('signatures verify with mailauth 4.13.3 (key from the loopback DNS server)', () => {
  it('passes for every algorithm x canonicalization x corpus message', { timeout: 30_000 }, async () => {
    const [host, port] = server.address.split(':');
    const dns = new NodeResolver({ timeout: 2000, tries: 1 });
    dns.setServers([`${host}:${port}`]);
    const resolver = async (name: string) => dns.resolveTxt(name);
    const failures: string[] = [];
    for (const { label, signed } of cases) {
      const result = await dkimVerify(signed, { resolver });
      const status = result.results[0]?.status;
      if (status?.result !== 'pass') failures.push(`${label}: ${status?.result} ${status?.comment ?? ''}`);
    }
    expect(failures).toEqual([]);
    expect(cases.length).toBe(2 * 4 * corpus.length);
    const multi = await dkimVerify(multiSigned, { resolver });
    expect(multi.results.map((r: { status: { result: string } }) => r.status.result)).toEqual(['pass', 'pass']);
    const tampered = Buffer.from(cases[0]!.signed.toString('latin1').replace('Hi Bob', 'Hi Eve'), 'latin1');
    // mailauth reports a body hash mismatch as neutral (RFC 6376 6.3 leaves it open); anything but pass will do.
    expect((await dkimVerify(tampered, { resolver })).results[0]?.status?.result).not.toBe('pass');
  });
});

describe("signatures verify with dkimpy's verifier (key from the loopback DNS server)", () => {
  it('passes for every algorithm x canonicalization x corpus message', { timeout: 30_000 }, async () => {
    if (!existsSync(PYTHON) || !existsSync('/usr/bin/dkimverify')) {
      throw new Error('dkimpy (python3-dkim) is missing: run bash .ci/install-peers.sh');
    }
    const multi = multiSigned.toString('base64');
    const messages = [...cases.map((c) => c.signed.toString('base64')), [multi, 0], [multi, 1]];
    const input = JSON.stringify({ server: server.address, messages });
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        PYTHON,
        [DKIMPY_SCRIPT],
        { timeout: 25_000, maxBuffer: 16 * 1024 * 1024 },
        (error, out, err) =>
          error ? reject(new Error(`dkimpy wrapper failed: ${error.message}\n${err}`)) : resolve(out),
      );
      child.stdin?.end(input);
    });
    const results = JSON.parse(stdout) as { ok: boolean; error: string | null }[];
    expect(results).toHaveLength(cases.length + 2);
    const labels = [...cases.map((c) => c.label), 'two signatures, first', 'two signatures, second'];
    const failures = results.flatMap((result, i) => (result.ok ? [] : [`${labels[i]}: ${result.error}`]));
    expect(failures).toEqual([]);
  });

  it('fails for a message altered after signing (the check is real)', { timeout: 30_000 }, async () => {
    const tampered = Buffer.from(cases[0]!.signed.toString('latin1').replace('Hi Bob', 'Hi Eve'), 'latin1');
    const input = JSON.stringify({ server: server.address, messages: [tampered.toString('base64')] });
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(PYTHON, [DKIMPY_SCRIPT], { timeout: 25_000 }, (error, out) =>
        error ? reject(error) : resolve(out),
      );
      child.stdin?.end(input);
    });
    expect(JSON.parse(stdout)[0].ok).toBe(false);
  });
});
