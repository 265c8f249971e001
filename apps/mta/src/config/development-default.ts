// The embedded development config of `npm start` (`homing start --dev`): a fresh clone runs a
// real server with no setup and no DNS at all. Everything it needs is made under {root}/var on
// first start and reused afterwards: a self-signed certificate, a users file with one user, and
// that user's password.
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { hashPassword } from '../users/password-hash';
import { readUsersFile, writeTextAtomically, writeUsersFile } from '../users/users-file';
import type { Config } from './config-types';
import { checkTls } from './file-checks';
import { parseConfig } from './load-config';

/** The one domain of the development server (RFC 6761 6.2: `.test` never resolves on the internet). */
export const developmentDomain = 'example.test';
/**
 * A name in our own test domain rather than `localhost`: it passes the same FQDN rule as a real
 * config, and reads as an MX name in the Received and Authentication-Results headers. The
 * certificate also names localhost, 127.0.0.1 and ::1, which is what clients connect to.
 */
export const developmentHostname = 'mx.example.test';
export const developmentUser = `dev@${developmentDomain}`;

/** What `npm start` runs on, and what the caller prints. */
export interface DevelopmentDefault {
  config: Config;
  /** The user's password, only when it was just created (print it once). */
  password?: string;
  /** Lines for the caller to print at start-up. */
  notes: string[];
}

/** Builds the development config under `{root}/var`, making what is missing. */
export async function developmentConfig({ root }: { root: string }): Promise<DevelopmentDefault> {
  const state = join(root, 'var');
  const tlsDir = join(state, 'tls');
  await mkdir(tlsDir, { recursive: true, mode: 0o700 });
  const notes: string[] = [];
  const cert = join(tlsDir, 'cert.pem');
  const key = join(tlsDir, 'key.pem');
  if (await needsCertificate(cert, key)) {
    await makeCertificate(cert, key);
    notes.push(`made a self-signed certificate for ${developmentHostname} and localhost in ${cert}`);
  }
  const users = join(state, 'users');
  const password = await ensureUser(users, join(state, 'dev-password'));

  const text = [
    `# Written by homing start --dev at every start (edits are lost); the server runs on this config.`,
    `domain: ${developmentDomain}`,
    `hostname: ${developmentHostname}`,
    `tls: { cert: ${JSON.stringify(cert)}, key: ${JSON.stringify(key)} }`,
    `users: ${JSON.stringify(users)}`,
    `state: ${JSON.stringify(state)}`,
    'listen:',
    '  mx: 127.0.0.1:2525',
    '  submission: 127.0.0.1:2587',
    '  submissions: 127.0.0.1:2465',
    '  metrics: 127.0.0.1:9325',
    `  control: ${JSON.stringify(join(state, 'control.sock'))}`,
    'dns: []',
    'filters: { rdns: off, fcrdns: off, dnsbl: off, spf: off, dmarc: off }',
    '',
  ].join('\n');
  const file = join(state, 'homing.yml');
  // The same validation as a user's config, so the development default can never drift from the schema.
  const config = await parseConfig(text, file);
  await writeFile(file, text);
  config.source = '(development default)';
  notes.push(
    'DNS-based filters (rdns, fcrdns, dnsbl, spf, dmarc) are off in the development default: it needs no DNS. A real config has them on.',
    `users file ${users}; add one with: npx homing user add NAME@${developmentDomain} --users ${users}`,
    `this config is in ${file} (npx homing config show ${file})`,
  );
  return password === undefined ? { config, notes } : { config, password, notes };
}

/** True when the certificate or key is missing, broken, mismatched or expires within a day. */
async function needsCertificate(cert: string, key: string): Promise<boolean> {
  const problems = await checkTls(cert, key);
  if (problems.cert !== undefined || problems.key !== undefined) return true;
  const certificate = new X509Certificate(await readFile(cert));
  return Date.parse(certificate.validTo) - Date.now() < 86_400_000;
}

async function makeCertificate(cert: string, key: string): Promise<void> {
  const now = Date.now();
  // RSA 2048, which every client takes (selfsigned's EC keys also break on this repository's mixed
  // @peculiar/asn1-schema copies).
  const pems = await generate([{ name: 'commonName', value: developmentHostname }], {
    keySize: 2048,
    notBeforeDate: new Date(now - 3_600_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: developmentHostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await writeTextAtomically(key, pems.private);
  await writeTextAtomically(cert, pems.cert);
}

/**
 * Makes sure the users file has the development user. Returns the password when it was just
 * created; a password kept from an earlier start is reused, so what was printed then still works.
 */
async function ensureUser(users: string, passwordFile: string): Promise<string | undefined> {
  const current = await readUsersFile(users).catch(() => ({ users: [], problems: [] }));
  const kept = await readFile(passwordFile, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (kept !== '' && current.users.some((user) => user.address === developmentUser)) return undefined;
  const password = kept !== '' ? kept : randomBytes(12).toString('base64url');
  const others = current.users.filter((user) => user.address !== developmentUser);
  // The password file first: a crash between the two leaves a password that the next start uses.
  if (kept === '') await writeTextAtomically(passwordFile, `${password}\n`);
  await writeUsersFile(users, [{ address: developmentUser, hash: await hashPassword(password) }, ...others]);
  return kept === '' ? password : undefined;
}
