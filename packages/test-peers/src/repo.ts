import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root, found from this file's place in it (packages/test-peers/src). */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** Where `bash .ci/install-peers.sh` unpacks the Debian Postfix package (not installed as a service). */
export const POSTFIX_DIR = join(REPO_ROOT, '.cache/postfix');

/** Postfix's smtp-sink, unpacked by `bash .ci/install-peers.sh`. */
export const SMTP_SINK = join(POSTFIX_DIR, 'usr/sbin/smtp-sink');

/** The environment Postfix's binaries run in: their shared libraries are in the unpacked package. */
export function postfixEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LD_LIBRARY_PATH: join(POSTFIX_DIR, 'usr/lib/postfix') };
}

/** The path of a program of the unpacked Postfix (`smtp-sink`, `postfix`, ...); throws when it is missing. */
export function postfixProgram(name: string): string {
  const path = join(POSTFIX_DIR, 'usr/sbin', name);
  if (!existsSync(path)) {
    throw new Error(
      `Postfix's ${name} is missing at ${path}: run \`sudo bash .ci/install-peers.sh\` on Debian (it unpacks the postfix .deb there)`,
    );
  }
  return path;
}
