// What is allowed but probably wrong in a valid config: a certificate that has expired or will
// soon, or does not name our host name; a users file with no users or with skipped lines. `homing
// config check` prints these and still exits 0; the server can log them at start.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readUsersFile } from '../users/users-file';
import type { ConfigProblem } from './config-error';
import type { Config } from './config-types';

const day = 86_400_000;

/** The warnings of a loaded config, in the same shape as its problems (line 0: about a whole file). */
export async function configWarnings(config: Config, now = Date.now()): Promise<ConfigProblem[]> {
  const warnings: ConfigProblem[] = [];
  const warn = (file: string, path: string, message: string, line = 0) =>
    warnings.push({ file, line, column: line === 0 ? 0 : 1, path, message });
  // With ACME the server obtains and renews its own certificate: nothing for the user to check.
  if (config.tls.acme === undefined) certificateWarnings(config, await readFile(config.tls.cert), now, warn);
  const users = await readUsersFile(config.users);
  for (const problem of users.problems) warn(config.users, '', problem.message, problem.line);
  if (users.users.length === 0) {
    warn(
      config.users,
      '',
      `no users yet, so postmaster@ mail has nobody to go to; add one with homing user add ADDRESS --users ${config.users}`,
    );
  }
  return warnings;
}

function certificateWarnings(
  config: Config,
  pem: Buffer,
  now: number,
  warn: (file: string, path: string, message: string) => void,
): void {
  const certificate = new X509Certificate(pem);
  const notAfter = Date.parse(certificate.validTo);
  const notBefore = Date.parse(certificate.validFrom);
  const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  if (notAfter < now) {
    warn(
      config.source,
      'tls.cert',
      `the certificate expired on ${date(notAfter)}; renew it (a running server takes the new file on reload)`,
    );
  } else if (notAfter - now < 14 * day) {
    warn(
      config.source,
      'tls.cert',
      `the certificate expires on ${date(notAfter)}, in ${Math.ceil((notAfter - now) / day)} days; renew it`,
    );
  }
  if (notBefore > now) warn(config.source, 'tls.cert', `the certificate is not valid before ${date(notBefore)}`);
  if (certificate.checkHost(config.hostname) === undefined) {
    const names = certificate.subjectAltName ?? certificate.subject.replace(/\n/g, ', ');
    warn(
      config.source,
      'tls.cert',
      `the certificate does not name ${config.hostname} (it names ${names}); clients that check it refuse it`,
    );
  }
}
