// The void-lookup cases against pyspf (python3-spf, the reference implementation of the RFC 7208 suite), both
// asking the loopback DNS server with the same zones: same result and same number of void lookups. In CI
// (CI=true) the test fails when pyspf is missing; elsewhere it is skipped with the reason printed.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpf } from '../src/index';
import { type LoopbackDns, startLoopbackDns } from './helpers/loopback-dns';
import { voidLookupCases, voidLookupZones } from './helpers/void-lookup-zones';

/** A python3 that has pyspf and dnspython (Debian's, not a pyenv one without them), or undefined. */
function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(candidate, ['-c', 'import spf, dns.resolver'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  return undefined;
}

// pyspf asks dnspython's default resolver; point it at our server, then print one line per case.
const PYSPF = `
import sys, spf, dns.resolver
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = int(sys.argv[1])
dns.resolver.default_resolver = resolver
for case in sys.argv[2:]:
    domain, ip = case.split(',')
    query = spf.query(i=ip, s='someone@' + domain, h='helo.example.com')
    print(domain, ip, query.check()[0], query.void_lookups)
`;

const python = findPython();
const inCi = process.env.CI === 'true';
if (python === undefined && !inCi) {
  console.warn(
    'spf-void-pyspf: skipped, python3 with pyspf is not installed (apt-get install python3-spf python3-dnspython)',
  );
}

describe.skipIf(python === undefined && !inCi)('SPF void lookups against pyspf', () => {
  let dns: LoopbackDns | undefined;
  beforeAll(async () => {
    if (python === undefined)
      throw new Error('CI=true but python3-spf is not installed: .ci/install-peers.sh must install it');
    // The apexes make missing names NXDOMAIN (not REFUSED) on the loopback server, as in the in-memory resolver.
    dns = await startLoopbackDns({ 'example.com': {}, '0.192.in-addr.arpa': {}, ...voidLookupZones });
  });
  afterAll(async () => {
    await dns?.server.close();
  });

  it('gives the same result and void-lookup count as pyspf for every case', async () => {
    const server = dns as LoopbackDns;
    const { stdout } = await promisify(execFile)(python as string, [
      '-c',
      PYSPF,
      String(server.server.port),
      ...voidLookupCases.map(([domain, ip]) => `${domain},${ip}`),
    ]);
    const theirs = stdout.trim().split('\n');
    const ours: string[] = [];
    for (const [domain, ip] of voidLookupCases) {
      const result = await checkSpf(
        { ip, helo: 'helo.example.com', sender: `someone@${domain}` },
        { resolver: server.resolver },
      );
      ours.push(`${domain} ${ip} ${result.result} ${result.voidLookups}`);
    }
    console.log(
      `spf-void-pyspf: ${ours.filter((line, i) => line === theirs[i]).length} of ${ours.length} cases agree with pyspf`,
    );
    expect(ours).toEqual(theirs);
  });
});
