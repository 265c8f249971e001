// What the `homing start` benchmarks share: a real server process on loopback with a config of
// their own, and Postfix's smtp-source driving it (async: the loopback DNS server answering the
// server lives in the benchmark's own process, so its event loop must keep running).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startDnsServer } from '@homing/dns/testing';
import { certificateFiles, freePort } from '@homing/test-peers';
import { hashPassword } from '../../apps/mta/src/users/users-file';

const run = promisify(execFile);
export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const postfixUsr = join(root, '.cache/postfix/usr');
const env = { ...process.env, LD_LIBRARY_PATH: join(postfixUsr, 'lib/postfix') };

/** The zones every benchmark's sending host needs: FCrDNS and SPF pass for 127.0.0.1. */
export function startBenchDns() {
  return startDnsServer({
    zones: {
      'in-addr.arpa': { SOA: { mname: 'ns.test', rname: 'hostmaster.test' } },
      test: { SOA: { mname: 'ns.test', rname: 'hostmaster.test' } },
      '1.0.0.127.in-addr.arpa': { PTR: ['mail.sender.test'] },
      'mail.sender.test': { A: ['127.0.0.1'] },
      'sender.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
    },
  });
}

/** What differs between the benchmarks' configs of `homing start`. */
export interface HomingProcessOptions {
  /** More config lines (top-level keys), added after the shared ones. */
  extra?: string[];
  /** The listener the returned `port` is on: the MX (default) or submission (STARTTLS + AUTH). */
  listener?: 'mx' | 'submission';
  /** alice@example.org's password in the users file; default `bench`. */
  password?: string;
}

/**
 * Starts `homing start` (see spawnHomingStart) on a config in `dir` (homing.yml, the users file with
 * alice@example.org, the state directory): example.org's server on `port`, with a metrics listener.
 */
export async function startHomingProcess(
  dir: string,
  dnsAddress: string,
  options: HomingProcessOptions = {},
): Promise<{ child: ChildProcess; port: number; metricsPort: number; state: string; certDir: string }> {
  const cert = certificateFiles();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const state = join(dir, 'state');
  const listener = options.listener ?? 'mx';
  const listen = { mx: '[]', submission: '[]', submissions: '[]', metrics: `"127.0.0.1:${metricsPort}"` };
  listen[listener] = `"127.0.0.1:${port}"`;
  const password = await hashPassword(options.password ?? 'bench');
  writeFileSync(join(dir, 'users'), `alice@example.org:${password}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'homing.yml'),
    [
      'domain: example.org',
      'hostname: mx.example.org',
      `tls: { cert: ${cert.certPath}, key: ${cert.keyPath} }`,
      `users: ${join(dir, 'users')}`,
      `state: ${state}`,
      `dns: ["${dnsAddress}"]`,
      `listen: { ${Object.entries(listen)
        .map(([name, value]) => `${name}: ${value}`)
        .join(', ')} }`,
      ...(options.extra ?? []),
    ].join('\n'),
  );
  const child = await spawnHomingStart(join(dir, 'homing.yml'));
  return { child, port, metricsPort, state, certDir: cert.dir };
}

/**
 * Runs `homing start --config CONFIG` and resolves once it logs `server started`; its log is read
 * on (so the server never blocks on a full pipe). Node options for the server (say `--cpu-prof`,
 * to profile it under a benchmark's load) come from HOMING_BENCH_NODE_OPTIONS.
 */
export async function spawnHomingStart(config: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.HOMING_BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []),
      join(root, 'apps/mta/bin/homing.js'),
      'start',
      '--config',
      config,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (/ server started /.test(seen)) {
        child.stdout!.off('data', onData);
        // Keep reading the log (a line per event) so the server never blocks on a full pipe.
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`homing start exited with ${code}: ${seen}`)));
  });
  return child;
}

/** Runs smtp-source against 127.0.0.1:port; resolves the messages per second it achieved. */
export async function smtpSource(
  port: number,
  options: { messages: number; sessions: number; size: number; reuse: boolean; to?: string },
): Promise<number> {
  const args = ['-s', String(options.sessions), '-m', String(options.messages), '-l', String(options.size)];
  args.push('-M', 'mail.sender.test', '-f', 'someone@sender.test', '-t', options.to ?? 'alice@example.org');
  if (options.reuse) args.push('-d');
  args.push(`127.0.0.1:${port}`);
  const started = process.hrtime.bigint();
  await run(join(postfixUsr, 'sbin/smtp-source'), args, { env, timeout: 600_000 }).catch(
    (error: { stderr?: string }) => {
      throw new Error(`smtp-source failed: ${error.stderr ?? String(error)}`);
    },
  );
  return options.messages / (Number(process.hrtime.bigint() - started) / 1e9);
}
