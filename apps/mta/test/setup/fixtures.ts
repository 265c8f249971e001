// What the setup tests stand up in place of the internet: a test CA and certificates for our
// hostname and MTA-STS host, the zones of a well-configured example.org, and the MTA-STS policy
// served over HTTPS on loopback.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '@homing/dkim';
import type { Zones } from '@homing/dns/testing';
import { generate } from 'selfsigned';

export const domain = 'example.org';
export const hostname = 'mx.example.org';
export const ips = ['127.0.0.1', '::1'];
/** The reverse names of 127.0.0.1 and ::1. */
export const ptr4 = '1.0.0.127.in-addr.arpa';
export const ptr6 = `${'1'}.${Array(31).fill('0').join('.')}.ip6.arpa`;

/** A test CA, and files of certificates it signed. */
export interface TestPki {
  dir: string;
  caPath: string;
  ca: string;
  /** For mx.example.org, mta-sts.example.org, localhost and 127.0.0.1, valid 90 days. */
  good: { certPath: string; keyPath: string; cert: string; key: string };
  /** The same names, expired yesterday. */
  expired: { certPath: string; keyPath: string; cert: string; key: string };
}

const names = [
  { type: 2 as const, value: hostname },
  { type: 2 as const, value: `mail.${domain}` },
  { type: 2 as const, value: `mta-sts.${domain}` },
  { type: 2 as const, value: 'localhost' },
  { type: 7 as const, ip: '127.0.0.1' },
];

export async function makePki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'homing-setup-pki-'));
  const ca = await generate([{ name: 'commonName', value: 'Homing Test CA' }], {
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = async (label: string, notBeforeDate: Date, notAfterDate: Date) => {
    const made = await generate([{ name: 'commonName', value: hostname }], {
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: names },
      ],
    });
    const certPath = join(dir, `${label}.pem`);
    const keyPath = join(dir, `${label}.key`);
    writeFileSync(certPath, made.cert);
    writeFileSync(keyPath, made.private, { mode: 0o600 });
    return { certPath, keyPath, cert: made.cert, key: made.private };
  };
  const now = Date.now();
  const day = 86_400_000;
  const caPath = join(dir, 'ca.pem');
  writeFileSync(caPath, ca.cert);
  return {
    dir,
    caPath,
    ca: ca.cert,
    good: await leaf('good', new Date(now - day), new Date(now + 90 * day)),
    expired: await leaf('expired', new Date(now - 30 * day), new Date(now - day)),
  };
}

/** A DKIM key and its record (the key doctor reads from {state}/dkim). */
export function dkimKey(): { privateKey: string; record: string } {
  const key = generateKey();
  return { privateKey: key.privateKey, record: key.record };
}

/** The zones of example.org with every record right, for the DKIM record given. */
export function goodZones(dkimRecord: string): Zones {
  const soa = { mname: 'ns.test', rname: 'hostmaster.test', minimum: 60 };
  return {
    'in-addr.arpa': { SOA: soa },
    'ip6.arpa': { SOA: soa },
    org: { SOA: soa },
    net: { SOA: soa },
    [domain]: { MX: [{ priority: 10, exchange: hostname }], TXT: ['v=spf1 ip4:127.0.0.1 ip6:::1 -all'] },
    [hostname]: { A: ['127.0.0.1'], AAAA: ['::1'] },
    [ptr4]: { PTR: [hostname] },
    [ptr6]: { PTR: [hostname] },
    [`homing._domainkey.${domain}`]: { TXT: [dkimRecord] },
    [`_dmarc.${domain}`]: { TXT: [`v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}`] },
    [`_mta-sts.${domain}`]: { TXT: ['v=STSv1; id=20261202000000'] },
    [`mta-sts.${domain}`]: { A: ['127.0.0.1'] },
    [`_smtp._tls.${domain}`]: { TXT: [`v=TLSRPTv1; rua=mailto:tls-reports@${domain}`] },
  };
}

/** The MTA-STS policy host on loopback: serves `policy()` (404 when it gives undefined). */
export async function startPolicyServer(
  pki: TestPki,
  policy: () => string | undefined,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer({ cert: pki.good.cert, key: pki.good.key }, (req, res) => {
    const body = req.url === '/.well-known/mta-sts.txt' ? policy() : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The policy our zones announce: enforce, our MX. */
export const goodPolicy = `version: STSv1\r\nmode: enforce\r\nmx: ${hostname}\r\nmax_age: 604800\r\n`;
