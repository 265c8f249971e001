// auditDomain's authentication records: SPF authorises the address, each DKIM key is published
// and well-formed, DMARC exists with valid rua= URIs.
import { createPublicKey } from 'node:crypto';
import { checkSpf } from '../check-spf';
import type { AuditFinding } from './audit-types';
import { dmarcTag } from './dmarc-policy';
import type { IpAddress } from './ip-address';
import { dnsFailureCode, type Resolver } from './resolver';

/** SPF of the domain passes mail from our address and host. */
export async function auditSpf(
  resolver: Resolver,
  domain: string,
  hostname: string,
  ip: IpAddress,
): Promise<AuditFinding> {
  const spf = await checkSpf({ ip: ip.text, helo: hostname, sender: `postmaster@${domain}` }, { resolver });
  if (spf.result === 'pass')
    return { check: 'spf', status: 'ok', message: `SPF of ${domain} passes ${ip.text} (${spf.mechanism})` };
  const term = `${ip.family === 4 ? 'ip4' : 'ip6'}:${ip.text}`;
  // Keep what the record already authorises and add our address first.
  const fixed =
    spf.record && spf.result !== 'permerror'
      ? spf.record.replace(/^v=spf1/i, `v=spf1 ${term}`)
      : `v=spf1 mx ${term} -all`;
  return {
    check: 'spf',
    status: 'error',
    message: `SPF of ${domain} gives ${spf.result} for ${ip.text}: ${spf.reason}`,
    publish: [{ name: domain, type: 'TXT', value: fixed }],
  };
}

function publicKeyProblem(record: string): string | undefined {
  const tags = new Map(
    record.split(';').map((part) => {
      const [name = '', ...value] = part.split('=');
      return [name.trim(), value.join('=').replace(/\s+/g, '')] as const;
    }),
  );
  if (tags.has('v') && tags.get('v') !== 'DKIM1') return 'v= must be DKIM1';
  const keyType = tags.get('k') ?? 'rsa';
  const key = tags.get('p');
  if (!key) return key === '' ? 'the key is revoked (empty p=)' : 'no p= public key';
  if (!/^[A-Za-z0-9+/]+=*$/.test(key)) return 'p= is not base64';
  if (keyType === 'ed25519') return Buffer.from(key, 'base64').length === 32 ? undefined : 'an ed25519 key is 32 bytes';
  if (keyType !== 'rsa') return `unknown key type k=${keyType}`;
  try {
    const parsed = createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' });
    const bits = parsed.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits < 1024 ? `the RSA key has ${bits} bits; receivers want at least 1024 (2048 recommended)` : undefined;
  } catch {
    return 'p= is not an RSA public key';
  }
}

/** A DKIM selector to check, with the public key we sign with when known (PEM or base64 SPKI). */
export type DkimSelectorInput = string | { selector: string; publicKey?: string };

/** Each DKIM key is published and well-formed (and matches ours when we know it). */
export async function auditDkim(
  resolver: Resolver,
  domain: string,
  selector: DkimSelectorInput,
): Promise<AuditFinding> {
  const { selector: name, publicKey } = typeof selector === 'string' ? { selector, publicKey: undefined } : selector;
  const ours = publicKey?.replace(/-----[^-]+-----|\s/g, '');
  const keyType = ours && Buffer.from(ours, 'base64').length <= 44 ? 'ed25519' : 'rsa';
  const recordName = `${name}._domainkey.${domain}`;
  const wanted = `v=DKIM1; k=${keyType}; p=${ours ?? '<your base64 public key>'}`;
  const publish = [{ name: recordName, type: 'TXT' as const, value: wanted }];
  let record: string | undefined;
  try {
    record = (await resolver.resolveTxt(recordName)).records[0];
  } catch (error) {
    return {
      check: 'dkim',
      status: 'error',
      message: `no DKIM key at ${recordName} (${dnsFailureCode(error) ?? error})`,
      publish,
    };
  }
  const problem = record ? publicKeyProblem(record) : 'empty record';
  if (problem) return { check: 'dkim', status: 'error', message: `DKIM key at ${recordName}: ${problem}`, publish };
  if (ours && !record?.replace(/\s+/g, '').includes(`p=${ours}`)) {
    return {
      check: 'dkim',
      status: 'error',
      message: `DKIM key at ${recordName} is not the key we sign with`,
      publish,
    };
  }
  return { check: 'dkim', status: 'ok', message: `DKIM key at ${recordName} is published and well-formed` };
}

/** DMARC exists, has a policy, and its rua= URIs are valid mailto: addresses. */
export async function auditDmarc(resolver: Resolver, domain: string): Promise<AuditFinding[]> {
  const name = `_dmarc.${domain}`;
  const suggested = [
    { name, type: 'TXT' as const, value: `v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@${domain}` },
  ];
  let records: string[] = [];
  try {
    records = (await resolver.resolveTxt(name)).records.filter((text) => /^v=DMARC1\s*(;|$)/i.test(text));
  } catch (error) {
    if (!['NXDOMAIN', 'NODATA'].includes(dnsFailureCode(error) ?? '')) {
      return [
        {
          check: 'dmarc',
          status: 'error',
          message: `DNS failure looking up ${name}: ${dnsFailureCode(error) ?? error}`,
        },
      ];
    }
  }
  if (records.length !== 1) {
    const message =
      records.length === 0
        ? `no DMARC record at ${name}`
        : `${records.length} DMARC records at ${name}; receivers ignore them all`;
    return [{ check: 'dmarc', status: 'error', message, publish: suggested }];
  }
  const record = records[0] as string;
  const findings: AuditFinding[] = [];
  const policy = dmarcTag(record, 'p');
  if (!['none', 'quarantine', 'reject'].includes(policy ?? '')) {
    findings.push({ check: 'dmarc', status: 'error', message: `${name} has no valid p= policy`, publish: suggested });
  }
  const rua = dmarcTag(record, 'rua');
  for (const uri of rua ? rua.split(',').map((part) => part.trim()) : []) {
    // RFC 7489 6.4: rua is a list of URIs; mailto: with an optional "!size" suffix.
    const match = /^mailto:([^@\s!]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})(![0-9]+[kmgt]?)?$/i.exec(uri);
    if (!match) {
      findings.push({
        check: 'dmarc',
        status: 'error',
        message: `rua URI "${uri}" is not a mailto: address`,
        publish: suggested,
      });
      continue;
    }
    const reportDomain = (match[2] as string).toLowerCase();
    if (reportDomain !== domain && !reportDomain.endsWith(`.${domain}`)) {
      // RFC 7489 7.1: an outside report receiver must publish that it accepts our reports.
      findings.push({
        check: 'dmarc',
        status: 'warning',
        message: `reports go to ${reportDomain}, which must authorise them`,
        publish: [{ name: `${domain}._report._dmarc.${reportDomain}`, type: 'TXT', value: 'v=DMARC1' }],
      });
    }
  }
  if (!rua)
    findings.push({
      check: 'dmarc',
      status: 'warning',
      message: `${name} has no rua=: you get no aggregate reports`,
      publish: suggested,
    });
  if (findings.length === 0)
    findings.push({ check: 'dmarc', status: 'ok', message: `${name}: p=${policy}, rua=${rua}` });
  return findings;
}
