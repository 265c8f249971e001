import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM key and certificate of one test identity. */
export interface TestIdentity {
  key: string;
  cert: string;
}

/** A private CA, a server certificate it issued, and an unrelated self-signed one, made with openssl. */
export interface TestCertificates {
  ca: TestIdentity;
  /** Issued by `ca` for `names` (DNS SANs) and 127.0.0.1 / ::1. */
  server: TestIdentity;
  /** Self-signed for the same names: trusted by nobody. */
  selfSigned: TestIdentity;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe', timeout: 20_000 });
  } catch (error) {
    throw new Error(`openssl failed (${(error as Error).message}): run \`bash .ci/install-peers.sh\``);
  }
}

/** Makes a fresh CA and certificates for `names` in a temporary directory (removed afterwards). */
export function makeCertificates(names: string[]): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'homing-delivery-certs-'));
  try {
    const san = [...names.map((name) => `DNS:${name}`), 'IP:127.0.0.1', 'IP:::1'].join(',');
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Homing Test CA'],
      dir,
    );
    openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0]}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'server.crt',
        '-days',
        '2',
        '-extfile',
        'ext.cnf',
      ],
      dir,
    );
    openssl(
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        'self.key',
        '-out',
        'self.crt',
        '-days',
        '2',
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${san}`,
      ],
      dir,
    );
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    return {
      ca: { key: read('ca.key'), cert: read('ca.crt') },
      server: { key: read('server.key'), cert: read('server.crt') },
      selfSigned: { key: read('self.key'), cert: read('self.crt') },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
