// The ACME state under `{state}/acme/`: the account key and URL, and the certificate with its key
// at the paths the config's `tls.cert`/`tls.key` name, so `homing reload` and `homing doctor` read
// them like any certificate. Every file is written whole (temp file, fsync, rename).
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { writeTextAtomically } from '../../users/users-file';
import type { StoredCertificateInfo } from './renewal-decision';

/** The subject the stand-in carries, so a restart knows it is not the CA's. */
const STAND_IN_ORGANIZATION = 'Homing stand-in (waiting for ACME)';

/** The files of the ACME state. */
export interface AcmeStore {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** The account key (PEM), or undefined before the first registration. */
  readAccount(): Promise<{ key: string; url?: string } | undefined>;
  writeAccount(account: { key: string; url: string }): Promise<void>;
  /** The certificate and key in force, or undefined when there are none. */
  readCertificate(): Promise<{ key: Buffer; cert: Buffer; info: StoredCertificateInfo } | undefined>;
  /** Writes the key before the certificate, so a reader never pairs a new certificate with an old key. */
  writeCertificate(pems: { key: string; cert: string }): Promise<void>;
  /** Writes a self-signed stand-in for `names` (valid 7 days) when there is no certificate at all. */
  ensureStandIn(names: readonly string[]): Promise<void>;
}

/** Parses a PEM chain's first certificate. */
export function describeCertificate(pem: Buffer | string): StoredCertificateInfo {
  const certificate = new X509Certificate(pem);
  const names = (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  return {
    names,
    notAfterMs: Date.parse(certificate.validTo),
    standIn: certificate.subject.includes(STAND_IN_ORGANIZATION),
  };
}

/** Opens (and creates, mode 700) the ACME state directory `dir`. */
export async function openAcmeStore(dir: string, paths: { certPath: string; keyPath: string }): Promise<AcmeStore> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const accountKeyPath = join(dir, 'account-key.pem');
  const accountPath = join(dir, 'account.json');
  const readOptional = (path: string) =>
    readFile(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  const store: AcmeStore = {
    dir,
    ...paths,
    async readAccount() {
      const key = await readOptional(accountKeyPath);
      if (key === undefined) return undefined;
      const saved = await readOptional(accountPath);
      const url = saved === undefined ? undefined : (JSON.parse(saved.toString('utf8')) as { url?: string }).url;
      return url === undefined ? { key: key.toString('utf8') } : { key: key.toString('utf8'), url };
    },
    async writeAccount(account) {
      await writeTextAtomically(accountKeyPath, account.key);
      await writeTextAtomically(accountPath, `${JSON.stringify({ url: account.url })}\n`);
    },
    async readCertificate() {
      const [key, cert] = await Promise.all([readOptional(paths.keyPath), readOptional(paths.certPath)]);
      if (key === undefined || cert === undefined) return undefined;
      return { key, cert, info: describeCertificate(cert) };
    },
    async writeCertificate(pems) {
      await writeTextAtomically(paths.keyPath, pems.key);
      await writeTextAtomically(paths.certPath, pems.cert);
    },
    async ensureStandIn(names) {
      if ((await store.readCertificate()) !== undefined) return;
      const now = Date.now();
      // RSA 2048 like the development default (selfsigned's EC keys break on mixed asn1 copies).
      const pems = await generate(
        [
          { name: 'commonName', value: names[0] ?? 'localhost' },
          { name: 'organizationName', value: STAND_IN_ORGANIZATION },
        ],
        {
          keySize: 2048,
          notBeforeDate: new Date(now - 3_600_000),
          notAfterDate: new Date(now + 7 * 86_400_000),
          extensions: [
            { name: 'basicConstraints', cA: false },
            { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
            { name: 'extKeyUsage', serverAuth: true },
            { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
          ],
        },
      );
      await store.writeCertificate({ key: pems.private, cert: pems.cert });
    },
  };
  return store;
}
