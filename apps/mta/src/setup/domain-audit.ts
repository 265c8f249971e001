// Doctor's domain checks that @homing/policy's auditDomain owns (MX, DKIM, DMARC, MTA-STS): it runs
// the audit and turns its findings into doctor's checks, adding what only the server knows (our
// private key's size, the hostname being no CNAME).
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { Resolver } from '@homing/dns';
import { type AuditFinding, auditDomain, createHttpsFetcher, type RecordToPublish } from '@homing/policy';
import type { CheckStatus, DoctorCheck } from './doctor-types';
import { hostnameAliasProblem } from './host-checks';
import { zoneLine } from './zone-lines';

/** The DMARC record to start with (RFC 7489 6.3): p=none, aggregate reports to us, so nothing is lost while reports are read. */
export function suggestedDmarc(domain: string): string {
  return `v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}`;
}

/** What the domain audit needs. */
export interface DomainAuditInput {
  domain: string;
  hostname: string;
  ips: string[];
  selector: string;
  /** Our DKIM key (when the config is known): its base64 public key and size. */
  dkimKey?: { publicKey: string; algorithm: 'rsa' | 'ed25519'; bits: number };
  resolver: Resolver;
  /** Extra trusted CA certificates (PEM) for the MTA-STS policy host, e.g. a test CA. */
  ca?: string[];
  /** Port of the MTA-STS policy host (default 443). */
  mtaStsPort?: number;
}

const statusOf = (finding: AuditFinding): CheckStatus => (finding.status === 'warning' ? 'warn' : finding.status);

const lines = (records: RecordToPublish[] | undefined) =>
  records?.map((record) => zoneLine(record.name, record.type, record.value)).join('\n');

/** A host name lookup through our resolver, so the policy host is found where every other name is. */
export function lookupThrough(resolver: Resolver): LookupFunction {
  return ((
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (error: Error | null, address: unknown, family?: number) => void,
  ) => {
    const family = options.family;
    const wanted = family === 6 || family === 'IPv6' ? [6] : family === 4 || family === 'IPv4' ? [4] : [4, 6];
    void Promise.all(
      wanted.map((family) =>
        (family === 4 ? resolver.resolveA(hostname) : resolver.resolveAaaa(hostname)).then(
          (answer) => answer.records.map((address) => ({ address, family })),
          () => [],
        ),
      ),
    ).then((found) => {
      const addresses = found.flat();
      if (addresses.length === 0) {
        const error = Object.assign(new Error(`${hostname} has no address record`), { code: 'ENOTFOUND' });
        callback(error, options.all ? [] : '', 4);
      } else if (options.all) callback(null, addresses);
      else callback(null, addresses[0]?.address, addresses[0]?.family);
    });
  }) as LookupFunction;
}

/** Runs auditDomain and gives the `mx`, `dkim`, `dmarc` and `mta-sts` checks. */
export async function auditChecks(input: DomainAuditInput): Promise<DoctorCheck[]> {
  const { domain, hostname, resolver } = input;
  const fetch = createHttpsFetcher({
    lookup: lookupThrough(resolver),
    ...(input.ca && input.ca.length > 0 ? { ca: [...rootCertificates, ...input.ca] } : {}),
    ...(input.mtaStsPort ? { port: input.mtaStsPort } : {}),
  });
  const audit = await auditDomain(
    {
      domain,
      hostname,
      ip: input.ips[0] ?? '127.0.0.1',
      dkimSelectors: [{ selector: input.selector, publicKey: input.dkimKey?.publicKey }],
    },
    { resolver, fetch },
  );
  const checks: DoctorCheck[] = [];
  for (const finding of audit.findings) {
    if (!['mx', 'dkim', 'dmarc', 'mta-sts'].includes(finding.check)) continue;
    const check: DoctorCheck = { name: finding.check, status: statusOf(finding), message: finding.message };
    const record = lines(finding.publish);
    if (record && check.status !== 'ok') check.record = record;
    // With no DMARC record at all, start where quickstart starts: p=none, reports on.
    if (finding.check === 'dmarc' && check.status === 'error' && /^no DMARC record/.test(finding.message)) {
      check.record = zoneLine(`_dmarc.${domain}`, 'TXT', suggestedDmarc(domain));
    }
    if (finding.check === 'mta-sts' && finding.serve && check.status !== 'ok') {
      check.record = await mtaStsRecord(resolver, domain, finding);
    }
    checks.push(check);
  }
  const mx = checks.find((check) => check.name === 'mx');
  if (mx?.status === 'ok') {
    const alias = await hostnameAliasProblem(resolver, hostname);
    if (alias)
      Object.assign(mx, {
        status: 'error',
        message: alias,
        // Replace the CNAME by the host's own address records.
        record: input.ips.map((ip) => zoneLine(hostname, isIP(ip) === 4 ? 'A' : 'AAAA', ip)).join('\n'),
      });
  }
  const dkim = checks.find((check) => check.name === 'dkim');
  const key = input.dkimKey;
  if (dkim?.status === 'ok' && key?.algorithm === 'rsa' && key.bits < 2048) {
    Object.assign(dkim, {
      status: 'warn',
      message: `${dkim.message}, but our key has ${key.bits} bits: make a 2048-bit one (homing dkim keygen) and publish it under a new selector`,
    });
  } else if (dkim?.status === 'ok') {
    dkim.message += key ? ` and matches our ${key.algorithm === 'rsa' ? `${key.bits}-bit RSA` : 'ed25519'} key` : '';
  }
  const dmarc = checks.filter((check) => check.name === 'dmarc');
  if (dmarc.length > 0 && dmarc.every((check) => check.status === 'ok')) {
    for (const check of dmarc) check.message += `; aligned: we sign with d=${domain} and send as @${domain}`;
  }
  return checks;
}

/** The MTA-STS fix: the policy file to serve, and the TXT line when the record too must change. */
async function mtaStsRecord(resolver: Resolver, domain: string, finding: AuditFinding): Promise<string> {
  const serve = finding.serve as { url: string; body: string };
  const policy = `# serve at ${serve.url} (Content-Type: text/plain):\n${serve.body.replace(/\r\n/g, '\n').trimEnd()}`;
  let hasTxt = false;
  try {
    // RFC 8461 3.1: v=STSv1 and an id of 1 to 32 letters and digits.
    hasTxt = (await resolver.resolveTxt(`_mta-sts.${domain}`)).records.some((text) =>
      /^v=STSv1\s*;\s*id=[A-Za-z0-9]{1,32}\s*(;|$)/i.test(text),
    );
  } catch {
    hasTxt = false;
  }
  // With a TXT record and no policy fetched, no sender holds a policy yet: the id may stay. A
  // policy that changes needs a new id, or senders keep the old one until max_age (RFC 8461 3.3).
  const unfetched = hasTxt && finding.status === 'error' && !finding.message.includes('mx lines');
  return unfetched ? policy : `${lines(finding.publish)}\n${policy}`;
}
