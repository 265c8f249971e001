// End-to-end harness: a real `homing start` process on loopback, with @homing/dns's loopback
// server answering every DNS question, a real certificate, users file and state directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DnsServer, startDnsServer, type Zones } from '@homing/dns/testing';
import { certificateFiles, freePort, HOMING_BIN } from '@homing/test-peers';
import { hashPassword } from '../../src/users/users-file';

export interface HomingServer {
  dir: string;
  state: string;
  configPath: string;
  mxPort: number;
  submissionPort: number;
  submissionsPort: number;
  metricsPort: number;
  dns: DnsServer;
  cert: { certPath: string; keyPath: string; cert: string };
  /** Every stdout line so far. */
  lines(): string[];
  stderr(): string;
  /** Resolves with the first line (from now or already printed) that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Files in a Maildir folder (`new` of INBOX by default; folder 'Junk' for `.Junk/new`). */
  maildir(address: string, folder?: 'INBOX' | 'Junk'): string[];
  readMail(address: string, file: string, folder?: 'INBOX' | 'Junk'): string;
  /** Waits until `count` files are in the folder. */
  waitForMail(address: string, count?: number, folder?: 'INBOX' | 'Junk', timeoutMs?: number): Promise<string[]>;
  /** Waits for a file that is not in `before`; resolves its text. */
  waitForNew(
    address: string,
    before: readonly string[],
    folder?: 'INBOX' | 'Junk',
    timeoutMs?: number,
  ): Promise<string>;
  signal(name: NodeJS.Signals): void;
  /** SIGTERM, then waits for exit; resolves the exit code. */
  stop(): Promise<number | null>;
  child: ChildProcess;
}

export interface HomingServerOptions {
  zones?: Zones;
  /** Extra YAML appended to the config (top-level keys). */
  extraConfig?: string;
  users?: { address: string; password: string }[];
  /** Replaces the whole config text; `{cert}`, `{key}`, `{users}`, `{state}`, `{dns}`, ports as `{mx}` etc. are filled in. */
  configText?: string;
  /** Keep using this directory (a restart of the same server). */
  dir?: string;
  dns?: DnsServer;
  cert?: HomingServer['cert'];
  /** The ports of an earlier run (a restart). */
  ports?: { mx: number; submission: number; submissions: number; metrics: number };
}

/** The zones most tests need: our domain and a well-configured sending host at 127.0.0.1. */
export function baseZones(): Zones {
  // The zone apexes make the server authoritative for every name below them, so a name nobody
  // listed is NXDOMAIN (no PTR, no record), not REFUSED (which a resolver takes as a DNS failure).
  const soa = { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 };
  return {
    'in-addr.arpa': { SOA: soa },
    test: { SOA: soa },
    org: { SOA: soa },
    'example.org': { MX: [{ priority: 10, exchange: 'mx.example.org' }], TXT: ['v=spf1 -all'] },
    'mx.example.org': { A: ['127.0.0.1'] },
    '1.0.0.127.in-addr.arpa': { PTR: ['mail.sender.test'] },
    'mail.sender.test': { A: ['127.0.0.1'] },
    'sender.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
  };
}

export async function startHoming(options: HomingServerOptions = {}): Promise<HomingServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'homing-e2e-'));
  const state = join(dir, 'state');
  const dns = options.dns ?? (await startDnsServer({ zones: options.zones ?? baseZones() }));
  const cert = options.cert ?? certificateFiles();
  const usersPath = join(dir, 'users');
  if (!existsSync(usersPath)) {
    const users = options.users ?? [{ address: 'alice@example.org', password: 'alice-password' }];
    const lines = await Promise.all(users.map(async (u) => `${u.address}:${await hashPassword(u.password)}`));
    writeFileSync(usersPath, `${lines.join('\n')}\n`, { mode: 0o600 });
  }
  const [mxPort, submissionPort, submissionsPort, metricsPort] = options.ports
    ? [options.ports.mx, options.ports.submission, options.ports.submissions, options.ports.metrics]
    : await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const fill = (text: string) =>
    text
      .replaceAll('{cert}', cert.certPath)
      .replaceAll('{key}', cert.keyPath)
      .replaceAll('{users}', usersPath)
      .replaceAll('{state}', state)
      .replaceAll('{dns}', dns.address)
      .replaceAll('{mx}', String(mxPort))
      .replaceAll('{submission}', String(submissionPort))
      .replaceAll('{submissions}', String(submissionsPort))
      .replaceAll('{metrics}', String(metricsPort));
  const text =
    options.configText ??
    [
      'domain: example.org',
      'hostname: mx.example.org',
      'tls: { cert: {cert}, key: {key} }',
      'users: {users}',
      'state: {state}',
      'dns: ["{dns}"]',
      'listen:',
      '  mx: 127.0.0.1:{mx}',
      '  submission: 127.0.0.1:{submission}',
      '  submissions: 127.0.0.1:{submissions}',
      '  metrics: 127.0.0.1:{metrics}',
      options.extraConfig ?? '',
    ].join('\n');
  const configPath = join(dir, 'homing.yml');
  writeFileSync(configPath, fill(text));

  const child = spawn(process.execPath, [HOMING_BIN, 'start', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  const out: string[] = [];
  let partial = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      out.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLine = (pattern: RegExp, timeoutMs = 10_000) => {
    const found = out.find((line) => pattern.test(line));
    if (found) return Promise.resolve(found);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`no line matching ${pattern} in ${timeoutMs} ms; stdout:\n${out.join('\n')}\nstderr:\n${err}`),
        );
      }, timeoutMs);
      waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`homing start exited with ${code}; stdout:\n${out.join('\n')}\nstderr:\n${err}`));
      });
    });
  };
  const folderPath = (address: string, folder: 'INBOX' | 'Junk' = 'INBOX') => {
    const [local, domain] = address.split('@') as [string, string];
    const base = join(state, 'mail', domain, local);
    return folder === 'Junk' ? join(base, '.Junk', 'new') : join(base, 'new');
  };
  const maildir = (address: string, folder?: 'INBOX' | 'Junk') => {
    const path = folderPath(address, folder);
    return existsSync(path) ? readdirSync(path).sort() : [];
  };
  await waitForLine(/ server started /, 15_000);
  return {
    dir,
    state,
    configPath,
    mxPort,
    submissionPort,
    submissionsPort,
    metricsPort,
    dns,
    cert,
    child,
    lines: () => [...out],
    stderr: () => err,
    waitForLine,
    maildir,
    readMail: (address, file, folder) => readFileSync(join(folderPath(address, folder), file), 'utf8'),
    async waitForMail(address, count = 1, folder, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const files = maildir(address, folder);
        if (files.length >= count) return files;
        if (Date.now() > deadline) {
          throw new Error(
            `${files.length} of ${count} messages in ${folderPath(address, folder)}; stdout:\n${out.join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async waitForNew(address, before, folder, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const fresh = maildir(address, folder).find((file) => !before.includes(file));
        if (fresh) return readFileSync(join(folderPath(address, folder), fresh), 'utf8');
        if (Date.now() > deadline) {
          throw new Error(`no new message in ${folderPath(address, folder)}; stdout:\n${out.join('\n')}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    signal: (name) => child.kill(name),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Stops the server and DNS, and removes the directory. */
export async function cleanUp(server: HomingServer | undefined, keepDns = false): Promise<void> {
  if (!server) return;
  await server.stop();
  if (!keepDns) await server.dns.close();
  rmSync(server.dir, { recursive: true, force: true });
  rmSync(server.cert.certPath.replace(/\/[^/]+$/, ''), { recursive: true, force: true });
}
