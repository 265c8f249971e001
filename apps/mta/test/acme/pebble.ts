// Pebble, Let's Encrypt's ACME test server (Debian package `pebble`), on loopback: its validation
// DNS is our loopback DNS server, its http-01 and tls-alpn-01 ports are where the server under
// test listens. Its CA is new at every start and trusted by the tests only.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFiles, freePort } from '@homing/test-peers';

export const PEBBLE = '/usr/bin/pebble';

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The file of the certificate Pebble's own HTTPS presents (for NODE_EXTRA_CA_CERTS). */
  httpsCaPath: string;
  /** The root that signs what Pebble issues (PEM). */
  root(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        response.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${response.statusCode}`)),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

/** Starts Pebble; `dns` is HOST:PORT of the loopback DNS server, the ports those of our listeners. */
export async function startPebble(options: { dns: string; httpPort: number; tlsPort: number }): Promise<Pebble> {
  if (!existsSync(PEBBLE)) throw new Error('pebble is not installed: run `bash .ci/install-peers.sh`');
  const dir = mkdtempSync(join(tmpdir(), 'homing-pebble-'));
  const tls = certificateFiles();
  const [port, managementPort] = await Promise.all([freePort(), freePort()]);
  const configPath = join(dir, 'pebble-config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: tls.certPath,
        privateKey: tls.keyPath,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn(PEBBLE, ['-config', configPath, '-dnsserver', options.dns, '-strict'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // No random sleep before validation, no nonce rejected on purpose, and every order
      // validated anew (so a renewal goes through the challenge again).
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
    },
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pebble did not start in 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pebble exited with ${code}:\n${output}`));
    });
  });
  await ready;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    directory: `https://127.0.0.1:${port}/dir`,
    httpsCaPath: tls.certPath,
    root: () => get(`https://127.0.0.1:${managementPort}/roots/0`, tls.cert),
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}
