// A throwaway certificate authority for loopback HTTPS tests, made with the openssl command
// (installed by `bash .ci/install-peers.sh`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A CA certificate and a server key and certificate it signed for `names`. */
export interface TestCertificates {
  ca: string;
  key: string;
  cert: string;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new Error(
      missing
        ? 'openssl is missing: run `bash .ci/install-peers.sh`'
        : `openssl ${args[0]} failed: ${String((error as { stderr?: Buffer }).stderr)}`,
    );
  }
}

/** Makes a CA and a server certificate for the DNS names given (subjectAltName). */
export function makeTestCertificates(names: string[]): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'homing-test-ca-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(dir, [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Homing Test CA',
    ]);
    openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0]}`]);
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}\n`);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]);
    const read = (file: string) => readFileSync(join(dir, file), 'utf8');
    return { ca: read('ca.pem'), key: read('server.key'), cert: read('server.pem') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
