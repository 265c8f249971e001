// @homing/policy against mailauth 4.13.3 in the same run, both asking the same loopback DNS
// server (in a child process, so this process's CPU is the checks' alone):
//  - SPF evaluations/s of a realistic record with nested includes, cold (no DNS cache: Node's
//    resolver for mailauth, @homing/dns with cache: false for us) and warm (both through the
//    same cached @homing/dns resolver);
//  - authenticate() messages/s for 10 KiB DKIM-signed messages (SPF + DKIM + ARC + DMARC), with
//    mailauth's authenticate() on the same messages and the same cached resolver.
import { spawn } from 'node:child_process';
import { Resolver as NodeResolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { createResolver, type Resolver } from '@homing/dns';
import { authenticate, checkSpf } from '@homing/policy';
import { dkimSign, authenticate as mailauthAuthenticate, spf as mailauthSpf } from 'mailauth';

const ROUND_MS = 1000;
const ROUNDS = 5;
const CONCURRENCY = 8;
const keys = new URL('../packages/policy/test/fixtures/keys/', import.meta.url);
const privateKey = readFileSync(new URL('private-rsa.pem', keys), 'utf8');
const publicKey = readFileSync(new URL('public-rsa.pem', keys), 'utf8').replace(/-----[^-]+-----|\s/g, '');

const zones = {
  'example.com': {
    TXT: ['v=spf1 mx include:_spf.example.com include:_spf.provider.test ~all'],
    MX: [
      { priority: 10, exchange: 'mx1.example.com' },
      { priority: 20, exchange: 'mx2.example.com' },
    ],
  },
  'mx1.example.com': { A: ['198.51.100.10'] },
  'mx2.example.com': { A: ['198.51.100.11'] },
  'relay.example.com': { A: ['198.51.100.20'] },
  '_spf.example.com': { TXT: ['v=spf1 ip4:198.51.100.128/25 a:relay.example.com ?all'] },
  'provider.test': {},
  '_spf.provider.test': { TXT: ['v=spf1 include:_netblocks.provider.test include:_netblocks2.provider.test ~all'] },
  '_netblocks.provider.test': { TXT: ['v=spf1 ip4:192.0.2.0/25 ip4:203.0.113.0/25 ip6:2001:db8:1::/48 ~all'] },
  '_netblocks2.provider.test': { TXT: ['v=spf1 ip4:192.0.2.128/25 ip6:2001:db8:2::/48 ~all'] },
  'test._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; p=${publicKey}`] },
  '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'] },
};

const child = spawn(
  process.execPath,
  [
    '-e',
    `const { startDnsServer } = require('@homing/dns/testing');
     startDnsServer({ zones: ${JSON.stringify(zones)} }).then((server) => console.log(server.address));
     process.stdin.on('end', () => process.exit(0)).resume();`,
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const address = await new Promise<string>((resolve, reject) => {
  child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
  child.once('exit', (code) => reject(new Error(`the DNS server exited with ${code}`)));
});

// mailauth's resolver option: Node's shapes and error codes.
const nodeCodes: Record<string, string> = { NXDOMAIN: 'ENOTFOUND', NODATA: 'ENODATA' };
function forMailauth(resolver: Resolver) {
  return async (name: string, type: string): Promise<never> => {
    try {
      if (type === 'TXT') return (await resolver.resolveTxt(name)).records.map((r) => [r]) as never;
      if (type === 'MX') return (await resolver.resolveMx(name)).records as never;
      if (type === 'A') return (await resolver.resolveA(name)).records as never;
      if (type === 'AAAA') return (await resolver.resolveAaaa(name)).records as never;
      if (type === 'PTR') return (await resolver.resolvePtr(name)).records as never;
      throw Object.assign(new Error(`no ${type}`), { code: 'ENOTIMP' });
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      throw Object.assign(new Error(String(error)), { code: nodeCodes[code] ?? `E${code}` });
    }
  };
}

const cold = createResolver({ servers: [address], cache: false });
const warm = createResolver({ servers: [address] });
const node = new NodeResolver({ timeout: 2000, tries: 2 });
node.setServers([address]);
const nodeForMailauth = (name: string, type: string) => node.resolve(name, type) as never;
const input = { ip: '192.0.2.200', helo: 'mail.example.com', sender: 'news@example.com' };
const spfOurs = (resolver: Resolver) => () => checkSpf(input, { resolver });
const spfTheirs = (resolver: (name: string, type: string) => Promise<never>) => () =>
  mailauthSpf({ ...input, mta: 'mx.bench.test', resolver });

const line = 'The quick brown fox jumps over the lazy dog; benchmarks are only as honest as their input.\r\n';
const body = line.repeat(Math.ceil(10240 / line.length));
const unsigned = `From: News <news@example.com>\r\nTo: someone@example.net\r\nSubject: bench\r\nDate: Fri, 27 Nov 2026 20:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n${body}`;
const signed = await dkimSign(unsigned, {
  canonicalization: 'relaxed/relaxed',
  signatureData: [{ signingDomain: 'example.com', selector: 'test', privateKey }],
} as never);
const message = Buffer.from(signed.signatures + unsigned);
const authOurs = () => authenticate({ ...input, message, hostname: 'mx.bench.test' }, { resolver: warm });
const authTheirs = () =>
  mailauthAuthenticate(message, {
    ...input,
    mta: 'mx.bench.test',
    resolver: forMailauth(warm),
    disableBimi: true,
  } as never);

// Check that both agree before timing them.
const [ours, theirs] = [await spfOurs(cold)(), await spfTheirs(nodeForMailauth)()];
if (ours.result !== 'pass' || theirs.status.result !== 'pass') {
  throw new Error(`SPF results differ: ${ours.result} vs ${theirs.status.result}`);
}
const [authA, authB] = [await authOurs(), await authTheirs()];
if (
  !authA.header.includes('dkim=pass') ||
  !authA.header.includes('dmarc=pass') ||
  !authB.headers.includes('dkim=pass')
) {
  throw new Error(`authenticate results unexpected:\n${authA.header}\n${authB.headers}`);
}

type Round = { rate: number; cpuMicros: number };
async function measure(task: () => Promise<unknown>): Promise<Round> {
  let done = 0;
  const deadline = performance.now() + ROUND_MS;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const lane = async () => {
    while (performance.now() < deadline) {
      await task();
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const used = process.cpuUsage(cpu);
  return { rate: done / ((performance.now() - started) / 1000), cpuMicros: (used.user + used.system) / done };
}

const cases: [string, () => Promise<unknown>][] = [
  ['SPF cold: mailauth spf() (Node resolver)', spfTheirs(nodeForMailauth)],
  ['SPF cold: @homing/policy checkSpf (no cache)', spfOurs(cold)],
  ['SPF warm: mailauth spf() (cached resolver)', spfTheirs(forMailauth(warm))],
  ['SPF warm: @homing/policy checkSpf (cached)', spfOurs(warm)],
  ['10 KiB auth: mailauth authenticate()', authTheirs],
  ['10 KiB auth: @homing/policy authenticate()', authOurs],
];
const results = new Map<string, Round[]>(cases.map(([label]) => [label, []]));
for (const [, task] of cases) await measure(task); // warm-up, not counted
for (let round = 0; round < ROUNDS; round++) {
  for (const [label, task] of cases) {
    globalThis.gc?.();
    results.get(label)?.push(await measure(task));
  }
}
child.stdin.end();

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const rate = (label: string) => median((results.get(label) ?? []).map((round) => round.rate));
const cpu = (label: string) => median((results.get(label) ?? []).map((round) => round.cpuMicros));
console.log(`${CONCURRENCY} checks in flight, loopback DNS server in a child process; SPF record with nested includes`);
console.log(`(about 10 DNS queries cold); median of ${ROUNDS} rounds of ${ROUND_MS} ms (Node ${process.version})\n`);
console.log('| check                                          |   checks/s | vs mailauth | CPU µs/check |');
console.log('| ---------------------------------------------- | ----------:| -----------:| ------------:|');
for (let i = 0; i < cases.length; i += 2) {
  const peer = (cases[i] as [string, unknown])[0];
  for (const label of [peer, (cases[i + 1] as [string, unknown])[0]]) {
    console.log(
      `| ${label.padEnd(46)} | ${Math.round(rate(label)).toLocaleString('en-US').padStart(10)} | ${(rate(label) / rate(peer)).toFixed(2).padStart(10)}x | ${Math.round(cpu(label)).toLocaleString('en-US').padStart(12)} |`,
    );
  }
}
