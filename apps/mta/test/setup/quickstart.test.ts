import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DnsServer, parseZoneFile, startDnsServer, type Zones } from '@homing/dns/testing';
import { runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/setup/doctor-types';
import { readUsersFile, verifyPassword } from '../../src/users/users-file';
import { cleanUp, type HomingServer, startHoming } from '../server/harness';
import { domain, hostname, makePki, ptr6, startPolicyServer, type TestPki } from './fixtures';

const soa = { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 };
/** The internet before anything is published: zones that exist and are empty. */
const emptyInternet: Zones = {
  'in-addr.arpa': { SOA: soa },
  'ip6.arpa': { SOA: soa },
  org: { SOA: soa },
  net: { SOA: soa },
};

/** The zone-file lines of quickstart's output (comments and prose left out). */
function zoneLines(stdout: string): string {
  return stdout
    .split('\n')
    .filter((line) => /^\S+\. \d+ IN [A-Z]+ /.test(line))
    .join('\n');
}

// quickstart in an empty directory, then `homing start` on what it wrote, then its printed records
// loaded into the loopback DNS server: `homing doctor` must pass every check.
describe('homing quickstart', () => {
  let pki: TestPki;
  let dns: DnsServer;
  let dir: string;
  let run: { code: number; stdout: string; stderr: string };
  let server: HomingServer | undefined;

  beforeAll(async () => {
    pki = await makePki();
    dns = await startDnsServer({ zones: emptyInternet });
    dir = mkdtempSync(join(tmpdir(), 'homing-quickstart-'));
    run = await runHoming([
      'quickstart',
      `alice@${domain}`,
      '--hostname',
      hostname,
      '--ip',
      '127.0.0.1',
      '--ip',
      '::1',
      '--dir',
      dir,
      '--cert',
      pki.good.certPath,
      '--key',
      pki.good.keyPath,
      '--dns',
      dns.address,
    ]);
  }, 60_000);
  afterAll(async () => {
    await cleanUp(server, true);
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('writes the config, users file, DKIM key and unit, and prints the password once', async () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const config = readFileSync(join(dir, 'homing.yml'), 'utf8');
    expect(config).toContain(`domain: ${domain}\nhostname: ${hostname}\n`);
    expect(config).toContain(`state: "${join(dir, 'state')}"`);
    const password = /Your password for alice@example\.org[^\n]*\n {2}(\S+)\n/.exec(run.stdout)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(run.stdout.split(password as string)).toHaveLength(2);
    const users = await readUsersFile(join(dir, 'users'));
    expect(users.users.map((user) => user.address)).toEqual([`alice@${domain}`]);
    expect(await verifyPassword(password as string, users.users[0]?.hash as string)).toBe(true);
    expect(statSync(join(dir, 'users')).mode & 0o777).toBe(0o600);
    const key = join(dir, 'state', 'dkim', `${domain}.homing.key`);
    expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'state', 'dkim', `${domain}.homing.txt`), 'utf8')).toMatch(
      new RegExp(`^homing\\._domainkey\\.${domain}\\. 3600 IN TXT "v=DKIM1; k=rsa; p=`),
    );
    const unit = readFileSync(join(dir, 'contrib', 'systemd', 'homing.service'), 'utf8');
    for (const line of [
      'User=homing',
      'ProtectSystem=strict',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      `ReadWritePaths=${join(dir, 'state')}`,
    ]) {
      expect(unit).toContain(`\n${line}\n`);
    }
    expect(unit).toMatch(
      new RegExp(`\\nExecStart=\\S+node \\S+homing\\.js start --config ${join(dir, 'homing.yml')}\\n`),
    );
    expect(run.stdout).toContain('systemctl daemon-reload && systemctl enable --now homing');
  });

  it('prints each record with why, the PTR of each IP, and the pre-flight warnings of the empty internet', () => {
    for (const line of [
      `${domain}. 3600 IN MX 10 ${hostname}.`,
      `${hostname}. 3600 IN A 127.0.0.1`,
      `${hostname}. 3600 IN AAAA ::1`,
      `${domain}. 3600 IN TXT "v=spf1 ip4:127.0.0.1 ip6:::1 -all"`,
      `_dmarc.${domain}. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}"`,
      `_smtp._tls.${domain}. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@${domain}"`,
      `1.0.0.127.in-addr.arpa. 3600 IN PTR ${hostname}.`,
      `${ptr6}. 3600 IN PTR ${hostname}.`,
    ]) {
      expect(run.stdout).toContain(`\n${line}\n`);
    }
    expect(run.stdout).toMatch(/\n; SPF: [^\n]+\n/);
    expect(run.stdout).toMatch(new RegExp(`\\n_mta-sts\\.${domain}\\. 3600 IN TXT "v=STSv1; id=\\d{14}"\\n`));
    // The zone is not signed: no TLSA.
    expect(run.stdout).not.toContain(' IN TLSA ');
    expect(run.stdout).toContain('warning: ptr ::1: ::1 has no PTR record');
    expect(run.stdout).toContain('warning: ptr 127.0.0.1: 127.0.0.1 has no PTR record');
  });

  it('writes a config homing start runs, and its records make homing doctor pass every check', async () => {
    const published = parseZoneFile(zoneLines(run.stdout), { file: 'quickstart output' });
    dns.setZones({ ...emptyInternet, ...published });
    // As is, with only the loopback ports and the loopback DNS server added for the test.
    const configText = `${readFileSync(join(dir, 'homing.yml'), 'utf8')}${[
      'dns: ["{dns}"]',
      'listen:',
      '  mx: 127.0.0.1:{mx}',
      '  submission: 127.0.0.1:{submission}',
      '  submissions: 127.0.0.1:{submissions}',
      '  metrics: 127.0.0.1:{metrics}',
      '',
    ].join('\n')}`;
    const configPath = join(dir, 'homing.yml');
    server = await startHoming({ dir, dns, configText, cert: { ...pki.good } });
    expect(server.configPath).toBe(configPath);
    const policy = readFileSync(join(dir, 'mta-sts.txt'), 'utf8');
    const policyServer = await startPolicyServer(pki, () => policy);
    try {
      const doctor = await runHoming([
        'doctor',
        domain,
        '--config',
        configPath,
        '--ip',
        '127.0.0.1',
        '--ip',
        '::1',
        '--ca',
        pki.caPath,
        '--mta-sts-port',
        String(policyServer.port),
        '--json',
      ]);
      const report = JSON.parse(doctor.stdout) as DoctorReport;
      expect(report.checks.filter((check) => check.status !== 'ok')).toEqual([]);
      expect(doctor.code).toBe(0);
      expect(report.checks).toHaveLength(18);
    } finally {
      await policyServer.close();
    }
  }, 60_000);

  it('refuses to overwrite: a second quickstart in the same directory writes nothing', async () => {
    const before = readFileSync(join(dir, 'users'), 'utf8');
    writeFileSync(join(dir, 'marker'), 'x');
    const again = await runHoming([
      'quickstart',
      `bob@${domain}`,
      '--ip',
      '127.0.0.1',
      '--dir',
      dir,
      '--dns',
      dns.address,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/homing\.yml already exists: quickstart never overwrites/);
    expect(readFileSync(join(dir, 'users'), 'utf8')).toBe(before);
  });

  it('says what to give when --ip is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'homing-quickstart-'));
    try {
      const result = await runHoming(['quickstart', `alice@${domain}`, '--dir', empty, '--dns', dns.address]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/give this server's public address with --ip/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
