// Doctor's TLS checks: each listener presents a certificate valid for the hostname with more than
// 14 days left, and, where the zone is DNSSEC-signed, TLSA records that match it (RFC 7672 DANE).
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isDnsError, type Resolver, type TlsaRecord } from '@homing/dns';
import type { DoctorCheck } from './doctor-types';
import { type ListenerTarget, probeListener } from './tls-probe';
import { zoneLine } from './zone-lines';

/** Fewer days left than this is a warning: renewal should have happened by then (Let's Encrypt renews at 30). */
export const minimumDaysLeft = 14;

const day = 86_400_000;

/** The certificate's days left, rounded down. */
function daysLeft(certificate: X509Certificate, now: number): number {
  return Math.floor((Date.parse(certificate.validTo) - now) / day);
}

/** `tls` for each listener, and the certificate the MX presented (for `tlsa`). */
export async function checkListeners(
  targets: ListenerTarget[],
  hostname: string,
  options: { ca?: string[]; certFile?: string; now?: number } = {},
): Promise<{ checks: DoctorCheck[]; certificate?: X509Certificate }> {
  const now = options.now ?? Date.now();
  let presented: X509Certificate | undefined;
  const checks: DoctorCheck[] = [];
  for (const target of targets) {
    const where = `${target.listener} (${target.host}:${target.port})`;
    const probe = await probeListener(target, hostname, { ca: options.ca });
    if (probe.ok) {
      presented ??= probe.certificate;
      const left = daysLeft(probe.certificate, now);
      checks.push(
        left < minimumDaysLeft
          ? {
              name: 'tls',
              status: 'warn',
              message: `${where}: the certificate for ${hostname} expires in ${left} days (${probe.certificate.validTo}): renew it`,
            }
          : {
              name: 'tls',
              status: 'ok',
              message: `${where}: ${probe.protocol}, certificate valid for ${hostname} for ${left} more days`,
            },
      );
      continue;
    }
    let message = `${where}: ${probe.reason}`;
    if (probe.code === 'CERT_HAS_EXPIRED' && options.certFile) {
      const file = await readCertificate(options.certFile);
      if (file) message += ` (${options.certFile} expired on ${file.validTo})`;
    }
    if (probe.unreachable) {
      // The server may simply not run yet: say so, and check the certificate file it would present.
      const file = options.certFile ? await certificateFileCheck(options.certFile, hostname, now) : undefined;
      checks.push({
        name: 'tls',
        status: file?.status === 'error' ? 'error' : 'warn',
        message: `${message}: is homing start running?${file ? ` ${file.message}` : ''}`,
      });
      continue;
    }
    checks.push({ name: 'tls', status: 'error', message });
  }
  return presented ? { checks, certificate: presented } : { checks };
}

async function readCertificate(path: string): Promise<X509Certificate | undefined> {
  try {
    return new X509Certificate(await readFile(path));
  } catch {
    return undefined;
  }
}

/** The certificate file alone: names the hostname, not expired. */
async function certificateFileCheck(
  path: string,
  hostname: string,
  now: number,
): Promise<{ status: 'ok' | 'error'; message: string }> {
  const certificate = await readCertificate(path);
  if (!certificate) return { status: 'error', message: `${path} holds no readable certificate` };
  if (!certificate.checkHost(hostname)) {
    return { status: 'error', message: `${path} is not valid for ${hostname}` };
  }
  const left = daysLeft(certificate, now);
  if (left < 0) return { status: 'error', message: `${path} expired on ${certificate.validTo}: renew it` };
  return { status: 'ok', message: `${path} is valid for ${hostname} for ${left} more days` };
}

/** The TLSA record quickstart and doctor suggest: DANE-EE, SPKI, SHA-256 (`3 1 1`, RFC 7671 5.1). */
export function tlsaFor(certificate: X509Certificate): string {
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return `3 1 1 ${createHash('sha256').update(spki).digest('hex')}`;
}

function tlsaMatches(record: TlsaRecord, certificate: X509Certificate): boolean {
  const data = record.selector === 1 ? certificate.publicKey.export({ type: 'spki', format: 'der' }) : certificate.raw;
  const digest =
    record.matchingType === 0
      ? data
      : createHash(record.matchingType === 1 ? 'sha256' : 'sha512')
          .update(data)
          .digest();
  // Usage 3 and 1 bind the end entity; 2 and 0 a CA, which only the chain could show.
  return (record.usage === 3 || record.usage === 1) && Buffer.compare(Buffer.from(record.data), digest) === 0;
}

/** `tlsa`: when the domain's zone is signed (AD bit), `_25._tcp.HOSTNAME` matches our certificate. */
export async function checkTlsa(
  resolver: Resolver,
  domain: string,
  hostname: string,
  certificate: X509Certificate | undefined,
): Promise<DoctorCheck> {
  const name = `_25._tcp.${hostname}`;
  let signed = false;
  try {
    signed = (await resolver.resolveMx(domain)).authenticated;
  } catch {
    signed = false;
  }
  if (!signed) {
    return {
      name: 'tlsa',
      status: 'ok',
      message: `${domain} is not DNSSEC-signed (or the resolver does not validate): DANE does not apply, MTA-STS covers TLS`,
    };
  }
  const wanted = certificate ? zoneLine(name, 'TLSA', tlsaFor(certificate)) : undefined;
  let records: TlsaRecord[] = [];
  try {
    records = (await resolver.resolveTlsa(name)).records;
  } catch (error) {
    if (!isDnsError(error) || !['NXDOMAIN', 'NODATA'].includes(error.code)) {
      return { name: 'tlsa', status: 'error', message: `DNS failure looking up ${name}: ${(error as Error).message}` };
    }
  }
  if (records.length === 0) {
    return {
      name: 'tlsa',
      status: 'warn',
      message: `${domain} is DNSSEC-signed but ${name} has no TLSA record: publish one so senders can use DANE`,
      ...(wanted ? { record: wanted } : {}),
    };
  }
  if (!certificate) {
    return {
      name: 'tlsa',
      status: 'warn',
      message: `not checked: the MX presented no certificate to compare with ${name}`,
    };
  }
  if (records.some((record) => tlsaMatches(record, certificate))) {
    return { name: 'tlsa', status: 'ok', message: `${name} matches the certificate the MX presents` };
  }
  return {
    name: 'tlsa',
    status: 'error',
    message: `no TLSA record at ${name} matches our certificate: DANE senders will refuse to deliver`,
    ...(wanted ? { record: wanted } : {}),
  };
}
