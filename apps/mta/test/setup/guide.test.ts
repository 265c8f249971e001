import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DnsServer, parseZoneFile, startDnsServer, type Zones } from '@homing/dns/testing';
import { HOMING_BIN, REPO_ROOT } from '@homing/test-peers';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanUp, type HomingServer, startHoming } from '../server/harness';
import { domain, makePki, startPolicyServer, type TestPki } from './fixtures';

// Runs every shell block of docs/guide.md in order, so the guide cannot rot. Loopback stands in
// for the internet: the loopback DNS server (HOMING_DNS) for DNS, the test CA for Let's Encrypt, a
// loopback HTTPS server for nginx, `homing start` on loopback ports for systemd. The paths of the
// guide move under a temporary root (/etc -> ROOT/etc, /var/lib/homing, /var/www), its example
// addresses become loopback ones (203.0.113.7 -> 127.0.0.1, 2001:db8::7 -> ::1), `sudo` runs the
// command as the test user, and `homing doctor` gets --ca and --mta-sts-port for the stand-ins.
// A block marked `<!-- guide-test: skip: WHY -->` is skipped and said so; `instead: NAME` runs
// the stand-in NAME in its place; `do: NAME` runs a stand-in where it stands; `keep: NAME` runs
// the block and keeps its output for a stand-in.

const guidePath = join(REPO_ROOT, 'docs', 'guide.md');

type Step =
  | { kind: 'run'; code: string; line: number; keep?: string }
  | { kind: 'skip'; code: string; line: number; why: string }
  | { kind: 'instead'; code: string; line: number; name: string }
  | { kind: 'do'; line: number; name: string };

/** The guide's shell blocks and markers, in order. */
function steps(text: string): Step[] {
  const lines = text.split('\n');
  const out: Step[] = [];
  let marker: { verb: string; arg: string } | undefined;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const found = /^<!-- guide-test: (skip|instead|do|keep): (.*?) -->$/.exec(line);
    if (line.startsWith('<!-- guide-test') && !found) throw new Error(`guide.md:${i + 1}: unknown marker ${line}`);
    if (found) {
      const verb = found[1] as string;
      const arg = found[2] as string;
      if (verb === 'do') out.push({ kind: 'do', line: i + 1, name: arg.split(' ')[0] as string });
      else marker = { verb, arg };
      continue;
    }
    if (!line.startsWith('```')) continue;
    const fence = line.slice(3).trim();
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && lines[i] !== '```'; i += 1) body.push(lines[i] as string);
    if (fence !== 'sh') {
      if (marker) throw new Error(`guide.md:${start + 1}: a guide-test marker before a ${fence || 'plain'} block`);
      continue;
    }
    const code = body.join('\n');
    const name = marker?.arg.split(' ')[0] as string;
    if (marker?.verb === 'skip') out.push({ kind: 'skip', code, line: start + 1, why: marker.arg });
    else if (marker?.verb === 'instead') out.push({ kind: 'instead', code, line: start + 1, name });
    else out.push({ kind: 'run', code, line: start + 1, ...(marker?.verb === 'keep' ? { keep: name } : {}) });
    marker = undefined;
  }
  return out;
}

function localize(code: string, root: string): string {
  return code
    .replaceAll('/etc/', `${root}/etc/`)
    .replaceAll('/var/lib/homing', `${root}/var/lib/homing`)
    .replaceAll('/var/www', `${root}/var/www`)
    .replaceAll('203.0.113.7', '127.0.0.1')
    .replaceAll('2001:db8::7', '::1');
}

const prelude = [
  'set -euo pipefail',
  'sudo() { "$@"; }',
  'homing() {',
  '  if [ "$1" = doctor ]; then node "$HOMING_BIN" "$@" --ca "$GUIDE_CA" --mta-sts-port "$GUIDE_POLICY_PORT";',
  '  else node "$HOMING_BIN" "$@"; fi',
  '}',
].join('\n');

function bash(
  script: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${prelude}\n${script}`], {
      cwd,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const soa = { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 };
const emptyInternet: Zones = {
  'in-addr.arpa': { SOA: soa },
  'ip6.arpa': { SOA: soa },
  org: { SOA: soa },
  net: { SOA: soa },
};

describe('docs/guide.md', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const clean of cleanups.reverse()) await clean();
  });

  it('runs every shell command of the guide in order, on loopback, and doctor passes at the end', async () => {
    const all = steps(readFileSync(guidePath, 'utf8'));
    const root = mkdtempSync(join(tmpdir(), 'homing-guide-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'home'));
    const pki: TestPki = await makePki();
    cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
    const dns: DnsServer = await startDnsServer({ zones: emptyInternet });
    cleanups.push(() => dns.close());
    const env: NodeJS.ProcessEnv = {
      HOMING_DNS: dns.address,
      HOMING_BIN,
      GUIDE_CA: pki.caPath,
      GUIDE_POLICY_PORT: '443',
    };
    const kept = new Map<string, string>();
    let server: HomingServer | undefined;
    const ran: string[] = [];
    const standIns: Record<string, () => Promise<void>> = {
      async certificate() {
        const live = join(root, 'etc', 'letsencrypt', 'live', `mail.${domain}`);
        mkdirSync(live, { recursive: true });
        writeFileSync(join(live, 'fullchain.pem'), pki.good.cert);
        writeFileSync(join(live, 'privkey.pem'), pki.good.key, { mode: 0o600 });
      },
      async publish() {
        const printed = (kept.get('quickstart') ?? '')
          .split('\n')
          .filter((line) => /^\S+\. \d+ IN [A-Z]+ /.test(line))
          .join('\n');
        expect(printed).toContain(' IN MX ');
        dns.setZones({ ...emptyInternet, ...parseZoneFile(printed, { file: 'quickstart output' }) });
      },
      async web() {
        const file = join(root, 'var', 'www', 'mta-sts', '.well-known', 'mta-sts.txt');
        const policy = await startPolicyServer(pki, () => readFileSync(file, 'utf8'));
        cleanups.push(() => policy.close());
        env.GUIDE_POLICY_PORT = String(policy.port);
      },
      async service() {
        const dir = join(root, 'etc', 'homing');
        const configText = `${readFileSync(join(dir, 'homing.yml'), 'utf8')}${[
          'dns: ["{dns}"]',
          'listen:',
          '  mx: 127.0.0.1:{mx}',
          '  submission: 127.0.0.1:{submission}',
          '  submissions: 127.0.0.1:{submissions}',
          '  metrics: 127.0.0.1:{metrics}',
          '',
        ].join('\n')}`;
        server = await startHoming({
          dir,
          dns,
          configText,
          cert: { ...pki.good },
        });
        cleanups.push(() => server?.stop().then(() => undefined));
      },
    };
    for (const step of all) {
      const where = `guide.md:${step.line}`;
      if (step.kind === 'skip') {
        console.log(`${where}: skipped (${step.why}): ${step.code.split('\n')[0]}`);
        continue;
      }
      if (step.kind === 'do' || step.kind === 'instead') {
        const standIn = standIns[step.name];
        if (!standIn) throw new Error(`${where}: no stand-in called ${step.name}`);
        console.log(
          `${where}: stand-in ${step.name}${step.kind === 'instead' ? ` instead of: ${step.code.split('\n')[0]}` : ''}`,
        );
        await standIn();
        ran.push(`stand-in ${step.name}`);
        continue;
      }
      const result = await bash(localize(step.code, root), env, join(root, 'home'));
      expect(result.code, `${where}: ${step.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);
      if (step.keep) kept.set(step.keep, result.stdout);
      ran.push(step.code.split('\n')[0] as string);
      if (/^homing doctor /m.test(step.code) && !/--send/.test(step.code)) {
        expect(result.stdout, result.stdout).not.toMatch(/^(ERROR|warn) /m);
        expect(result.stdout).toMatch(/\n0 error\(s\), 0 warning\(s\)\./);
      }
    }
    expect(ran).toEqual([
      'stand-in certificate',
      expect.stringMatching(/^sudo homing quickstart /),
      'stand-in publish',
      'homing dns lookup example.org MX',
      'sudo mkdir -p /var/www/mta-sts/.well-known',
      'stand-in web',
      'sudo mkdir -p /etc/systemd/system',
      'stand-in service',
      expect.stringMatching(/^homing doctor example\.org --config /),
    ]);
    expect(readFileSync(join(root, 'etc', 'systemd', 'system', 'homing.service'), 'utf8')).toContain(
      'ProtectSystem=strict',
    );
    if (server) await cleanUp(server, true);
    server = undefined;
  }, 120_000);
});
