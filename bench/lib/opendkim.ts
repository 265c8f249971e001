// OpenDKIM as a throw-away milter for a benchmark's Postfix, so that Postfix signs what homing
// signs: the same RSA key and selector, relaxed/relaxed, the header fields @homing/dkim signs by
// default. It runs in the foreground (`opendkim -f -x CONF`) from a directory of its own, listens
// on a loopback port, and only signs (Mode s: homing does not verify what its users submit).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_SIGNED_HEADERS } from '@homing/dkim';
import { freePort } from '@homing/test-peers';

const OPENDKIM = '/usr/sbin/opendkim';

/** Throws the line to print when OpenDKIM is not installed (Debian package opendkim). */
export function requireOpenDkim(): void {
  if (!existsSync(OPENDKIM)) {
    throw new Error(
      `OpenDKIM is missing at ${OPENDKIM}: Postfix signs through it in this benchmark. Install it with \`sudo bash .ci/install-peers.sh\` (or \`sudo apt-get install -y opendkim\` on Debian)`,
    );
  }
}

export interface OpenDkimOptions {
  /** Its own directory (configuration, socket-free: it listens on a loopback port). */
  dir: string;
  domain: string;
  selector: string;
  /** PEM file of the private key, mode 600 (OpenDKIM refuses a key others can read). */
  keyFile: string;
}

/** Starts OpenDKIM and resolves once its milter port accepts connections. */
export async function startOpenDkim(options: OpenDkimOptions): Promise<{ child: ChildProcess; port: number }> {
  requireOpenDkim();
  mkdirSync(options.dir, { recursive: true });
  const port = await freePort();
  const config = join(options.dir, 'opendkim.conf');
  writeFileSync(
    config,
    [
      `Socket inet:${port}@127.0.0.1`,
      'Mode s',
      // Mail from Postfix's smtpd on loopback is ours (InternalHosts' default is 127.0.0.1 too).
      'InternalHosts 127.0.0.1',
      `Domain ${options.domain}`,
      `Selector ${options.selector}`,
      `KeyFile ${options.keyFile}`,
      'Canonicalization relaxed/relaxed',
      'SignatureAlgorithm rsa-sha256',
      `SignHeaders ${DEFAULT_SIGNED_HEADERS.join(',')}`,
      // @homing/dkim signs From once more than present (its default `oversign`), so no From can be added.
      'OversignHeaders From',
      // The key lies under /tmp (writable by all, sticky): OpenDKIM refuses such a path unless told.
      'RequireSafeKeys false',
      'Syslog no',
      'UMask 007',
      '',
    ].join('\n'),
  );
  const child = spawn(OPENDKIM, ['-f', '-x', config], { cwd: options.dir, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`opendkim exited with ${child.exitCode} (its configuration: ${config})`);
    if (await accepts(port)) return { child, port };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`opendkim did not listen on 127.0.0.1:${port} within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
