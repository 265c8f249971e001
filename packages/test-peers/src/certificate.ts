import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate kept on disk, for peers that take file paths (swaks, `homing sink --tls-key`). */
export interface CertificateFiles {
  key: string;
  cert: string;
  dir: string;
  keyPath: string;
  certPath: string;
}

/** Makes a self-signed certificate for `localhost` and 127.0.0.1 with the openssl command, in a new temp dir. */
export function certificateFiles(): CertificateFiles {
  const dir = mkdtempSync(join(tmpdir(), 'homing-test-peers-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'pipe' },
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`openssl failed (${(error as Error).message}); run \`bash .ci/install-peers.sh\``);
  }
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), dir, keyPath, certPath };
}

/** A self-signed certificate for `localhost` and 127.0.0.1, in memory (its temp files are removed). */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const files = certificateFiles();
  rmSync(files.dir, { recursive: true, force: true });
  return { key: Buffer.from(files.key), cert: Buffer.from(files.cert) };
}
