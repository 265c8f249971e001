// `homing quickstart ADDRESS`: from nothing to a config `homing start` runs, the users file with
// ADDRESS and a generated password, the DKIM key, the systemd unit, and every DNS record to
// publish. It writes nothing over an existing file, and runs doctor's pre-flight checks first.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { generateKey } from '@homing/dkim';
import type { Resolver } from '@homing/dns';
import { generate } from 'selfsigned';
import { parseAddress, parseDomain } from '../config/config-values';
import { hashPassword } from '../users/password-hash';
import { formatUsers } from '../users/users-file';
import { dkimKeyPath, dkimRecordPath } from './dkim-key-path';
import { mtaStsPolicy, recordsToPublish, renderRecords } from './dns-records';
import { checkDnsblListing } from './dnsbl-check';
import type { DoctorCheck } from './doctor-types';
import { checkReverse } from './host-checks';
import { systemdUnit } from './systemd-unit';
import { tlsaFor } from './tls-checks';
import { zoneLine } from './zone-lines';

/** What quickstart is asked for. */
export interface QuickstartInput {
  address: string;
  hostname?: string;
  ips: string[];
  dir: string;
  /** The state directory (default `{dir}/state`). */
  state?: string;
  /** An existing certificate and key (default: a self-signed placeholder in `{dir}/tls`). */
  cert?: string;
  key?: string;
  selector: string;
  dnsblZones: string[];
  resolver: Resolver;
  /** The command that runs homing, for the systemd unit. */
  command: string;
}

/** What quickstart made, for the command to print. */
export interface QuickstartResult {
  configPath: string;
  usersPath: string;
  password: string;
  keyPath: string;
  unitPath: string;
  policyPath: string;
  certPath: string;
  tlsKeyPath: string;
  state: string;
  selfSigned: boolean;
  records: string;
  policy: string;
  /** Pre-flight findings that are not ok (PTR, FCrDNS, DNSBL of each IP). */
  warnings: DoctorCheck[];
}

/** Why quickstart refuses (bad input, a file that exists): said to the user as is. */
export class QuickstartError extends Error {}

function checked<T>(parsed: { ok: true; value: T } | { ok: false; message: string }, what: string): T {
  if (!parsed.ok) throw new QuickstartError(`${what}: ${parsed.message}`);
  return parsed.value;
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
  );
}

/** Writes a new file (never over an existing one), making its directory. */
async function writeNew(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFile(path, text, { mode, flag: 'wx' });
}

/** The pre-flight checks that need no published record: PTR and FCrDNS of each IP, DNSBL listing. */
export async function preflight(input: Pick<QuickstartInput, 'ips' | 'resolver' | 'dnsblZones'>, hostname: string) {
  const results = await Promise.all(
    input.ips.map(async (ip) => [
      ...(await checkReverse(input.resolver, hostname, ip)).checks,
      await checkDnsblListing(input.resolver, ip, input.dnsblZones),
    ]),
  );
  return results.flat().filter((check) => check.status !== 'ok');
}

/** Makes everything, or refuses before writing anything. */
export async function runQuickstart(input: QuickstartInput): Promise<QuickstartResult> {
  const address = checked(parseAddress(input.address), 'ADDRESS');
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const hostname = checked(parseDomain(input.hostname ?? `mail.${domain}`, `mail.${domain}`), '--hostname');
  if (input.ips.length === 0) {
    throw new QuickstartError(
      "give this server's public address with --ip (repeat for IPv4 and IPv6; `ip -brief address` or the provider's panel shows them)",
    );
  }
  for (const ip of input.ips) {
    if (!isIP(ip)) throw new QuickstartError(`--ip ${ip} is not an IP address; give an IPv4 or IPv6 address`);
  }
  if ((input.cert === undefined) !== (input.key === undefined)) {
    throw new QuickstartError('give --cert and --key together (the certificate and its private key)');
  }
  const dir = resolve(input.dir);
  const state = resolve(input.state ?? join(dir, 'state'));
  const configPath = join(dir, 'homing.yml');
  const usersPath = join(dir, 'users');
  const keyPath = dkimKeyPath(state, domain, input.selector);
  const unitPath = join(dir, 'contrib', 'systemd', 'homing.service');
  const policyPath = join(dir, 'mta-sts.txt');
  const certPath = input.cert ? resolve(input.cert) : join(dir, 'tls', 'cert.pem');
  const tlsKeyPath = input.key ? resolve(input.key) : join(dir, 'tls', 'key.pem');
  const ours = [configPath, usersPath, keyPath, unitPath, policyPath, ...(input.cert ? [] : [certPath, tlsKeyPath])];
  for (const path of ours) {
    if (await exists(path)) {
      throw new QuickstartError(
        `${path} already exists: quickstart never overwrites; move it away, or pick another --dir`,
      );
    }
  }
  const warnings = await preflight(input, hostname);

  const password = randomBytes(15).toString('base64url');
  const dkim = generateKey();
  const selfSigned = input.cert === undefined;
  if (selfSigned) await makePlaceholderCertificate(certPath, tlsKeyPath, hostname, domain);
  await mkdir(state, { recursive: true, mode: 0o700 });
  await writeNew(keyPath, dkim.privateKey, 0o600);
  await writeNew(
    dkimRecordPath(state, domain, input.selector),
    `${zoneLine(`${input.selector}._domainkey.${domain}`, 'TXT', dkim.record)}\n`,
  );
  await writeNew(usersPath, formatUsers([{ address, hash: await hashPassword(password) }]), 0o600);
  const config = [
    '# Written by homing quickstart; the keys and their defaults are in the apps/mta README.',
    `domain: ${domain}`,
    `hostname: ${hostname}`,
    `tls: { cert: ${JSON.stringify(certPath)}, key: ${JSON.stringify(tlsKeyPath)} }`,
    `users: ${JSON.stringify(usersPath)}`,
    `state: ${JSON.stringify(state)}`,
    '',
  ].join('\n');
  await writeNew(configPath, config);
  const policy = mtaStsPolicy(hostname);
  await writeNew(policyPath, policy);
  await writeNew(unitPath, systemdUnit({ command: input.command, config: configPath, state }));

  const tlsa = await signedZoneTlsa(input.resolver, domain, certPath);
  const records = renderRecords(
    recordsToPublish({
      domain,
      hostname,
      ips: input.ips,
      selector: input.selector,
      dkimRecord: dkim.record,
      mtaStsId: new Date()
        .toISOString()
        .replace(/[^0-9]/g, '')
        .slice(0, 14),
      ...(tlsa ? { tlsa } : {}),
    }),
  );
  return {
    configPath,
    usersPath,
    password,
    keyPath,
    unitPath,
    policyPath,
    certPath,
    tlsKeyPath,
    state,
    selfSigned,
    records,
    policy,
    warnings,
  };
}

/** The TLSA value of our certificate when the domain's zone is DNSSEC-signed (the resolver set AD). */
async function signedZoneTlsa(resolver: Resolver, domain: string, certPath: string): Promise<string | undefined> {
  // Any answer about the domain carries the AD bit when its zone is signed and the resolver validates.
  const lookups = [resolver.resolveTxt, resolver.resolveMx, resolver.resolveA, resolver.resolveAaaa];
  const answers = await Promise.all(
    lookups.map((lookup) =>
      (lookup as (name: string) => Promise<{ authenticated: boolean }>).call(resolver, domain).then(
        (answer) => answer.authenticated,
        () => false,
      ),
    ),
  );
  const signed = answers.some(Boolean);
  if (!signed) return undefined;
  const { X509Certificate } = await import('node:crypto');
  return tlsaFor(new X509Certificate(await readFile(certPath)));
}

/** A self-signed certificate so that `homing start` runs at once; replace it with a CA's. */
async function makePlaceholderCertificate(cert: string, key: string, hostname: string, domain: string) {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 3_600_000),
    notAfterDate: new Date(now + 90 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: `mta-sts.${domain}` },
        ],
      },
    ],
  });
  await writeNew(key, pems.private, 0o600);
  await writeNew(cert, pems.cert);
}
