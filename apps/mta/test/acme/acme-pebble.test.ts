// Certificates by ACME against a real CA: Pebble on loopback validates http-01 against the
// server's own responder (names resolved by the loopback DNS server), the server presents the
// issued certificate on STARTTLS and serves the MTA-STS policy with it, and a forced renewal is
// served to the next connection by the same process.
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { startDnsServer } from '@homing/dns/testing';
import { freePort, runHoming } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseZones, cleanUp, type HomingServer, startHoming } from '../server/harness';
import { type Pebble, startPebble } from './pebble';
import { starttlsCertificate } from './starttls-certificate';

let pebble: Pebble | undefined;
let server: HomingServer | undefined;
let root = '';
let httpsPort = 0;

function fetchPolicy(
  host: string,
  path = '/.well-known/mta-sts.txt',
  servername = 'mta-sts.example.org',
): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const request = get(
      {
        host: '127.0.0.1',
        port: httpsPort,
        // The certificate is checked for the policy host; the Host header picks the policy.
        servername,
        headers: { host },
        path,
        ca: root,
        agent: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        const serial = (response.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, serial }));
      },
    );
    request.once('error', reject);
  });
}

beforeAll(async () => {
  const zones = {
    ...baseZones(),
    'mta-sts.example.org': { A: ['127.0.0.1'] },
    net: { SOA: { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 } },
    'mta-sts.example.net': { A: ['127.0.0.1'] },
  };
  const dns = await startDnsServer({ zones });
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  httpsPort = tlsPort;
  pebble = await startPebble({ dns: dns.address, httpPort, tlsPort });
  root = await pebble.root();
  // The server trusts Pebble's HTTPS (its directory) through Node's own variable, in this test only.
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = pebble.httpsCaPath;
  try {
    server = await startHoming({
      dns,
      configText: [
        'domain: example.org',
        'hostname: mx.example.org',
        'tls:',
        '  acme:',
        '    email: postmaster@example.org',
        `    directory: ${pebble.directory}`,
        `    http: 127.0.0.1:${httpPort}`,
        `    https: 127.0.0.1:${tlsPort}`,
        '    mta_sts: { mode: enforce, max_age: 14d }',
        'users: {users}',
        'state: {state}',
        'dns: ["{dns}"]',
        'listen:',
        '  mx: 127.0.0.1:{mx}',
        '  submission: 127.0.0.1:{submission}',
        '  submissions: 127.0.0.1:{submissions}',
        '  metrics: 127.0.0.1:{metrics}',
      ].join('\n'),
    });
  } finally {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  }
  await server.waitForLine(/ acme issued /, 30_000);
}, 60_000);

afterAll(async () => {
  await cleanUp(server);
  await pebble?.stop();
});

describe('certificates by ACME (Pebble on loopback)', () => {
  it('answers the http-01 challenge itself, for the host name and mta-sts.DOMAIN', () => {
    const lines = server!.lines();
    expect(lines.some((line) => / acme challenge name=mx\.example\.org type=http-01/.test(line))).toBe(true);
    expect(lines.some((line) => / acme challenge name=mta-sts\.example\.org type=http-01/.test(line))).toBe(true);
    // The CA's validation reached our responder and got the key authorization.
    expect(lines.some((line) => / acme challenge-fetched .*found=true/.test(line))).toBe(true);
    expect(lines.find((line) => / acme issued /.test(line))).toContain('names=mx.example.org,mta-sts.example.org');
  });

  it('presents the issued certificate on STARTTLS, valid for the host name under the CA', async () => {
    const { certificate, authorized, error } = await starttlsCertificate(server!.mxPort, 'mx.example.org', root);
    expect(error).toBeUndefined();
    expect(authorized).toBe(true);
    expect(certificate.subjectaltname).toContain('DNS:mx.example.org');
    expect(certificate.issuer.CN).toMatch(/Pebble Intermediate/);
  });

  it('serves the MTA-STS policy over HTTPS with the same certificate', async () => {
    const policy = await fetchPolicy('mta-sts.example.org');
    expect(policy.status).toBe(200);
    expect(policy.body).toBe('version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 1209600\r\n');
    expect((await fetchPolicy('mta-sts.example.net')).status).toBe(404);
    expect((await fetchPolicy('mta-sts.example.org', '/.well-known/other')).status).toBe(404);
  });

  it('serves a forced renewal to the next connection, without a restart', async () => {
    const before = await starttlsCertificate(server!.mxPort, 'mx.example.org', root);
    const pid = server!.child.pid;
    const renewed = await runHoming(['acme', 'renew', '--config', server!.configPath, '--json'], { timeout: 60_000 });
    expect(renewed.stderr).toBe('');
    expect(renewed.code).toBe(0);
    const outcome = JSON.parse(renewed.stdout) as { issued: boolean; reason: string; names: string[] };
    expect(outcome).toMatchObject({ issued: true, reason: 'forced', names: ['mx.example.org', 'mta-sts.example.org'] });
    const after = await starttlsCertificate(server!.mxPort, 'mx.example.org', root);
    expect(after.authorized).toBe(true);
    expect(after.certificate.serialNumber).not.toBe(before.certificate.serialNumber);
    expect((await fetchPolicy('mta-sts.example.org')).serial).toBe(after.certificate.serialNumber);
    expect(server!.child.pid).toBe(pid);
    expect(server!.child.exitCode).toBeNull();
  }, 60_000);

  it('orders a certificate with the new mta-sts name when a reload adds a domain', async () => {
    const text = readFileSync(server!.configPath, 'utf8').replace(
      'domain: example.org',
      'domains: [example.org, example.net]',
    );
    writeFileSync(server!.configPath, text);
    const reloaded = await runHoming(['reload', '--config', server!.configPath]);
    expect(reloaded.code, reloaded.stderr).toBe(0);
    await server!.waitForLine(
      / acme issued reason=names names=mx\.example\.org,mta-sts\.example\.org,mta-sts\.example\.net /,
      30_000,
    );
    const policy = await fetchPolicy('mta-sts.example.net', '/.well-known/mta-sts.txt', 'mta-sts.example.net');
    expect(policy.status).toBe(200);
  }, 60_000);
});
