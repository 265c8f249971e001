// Every DNS record a new mail domain publishes, as quickstart prints them: zone-file lines with
// one line of why each. doctor checks the same records (the suggested values live beside it).
import { isIP } from 'node:net';
import { suggestedSpf, suggestedTlsRpt } from './auth-checks';
import { suggestedDmarc } from './domain-audit';
import { ptrLine, zoneLine } from './zone-lines';

/** What the records are made from. */
export interface RecordsInput {
  domain: string;
  hostname: string;
  ips: string[];
  selector: string;
  /** The DKIM TXT value (`v=DKIM1; k=...; p=...`). */
  dkimRecord: string;
  /** The MTA-STS policy id (changes whenever the policy does). */
  mtaStsId: string;
  /** The TLSA value (`3 1 1 ...`) when the zone is DNSSEC-signed; undefined leaves TLSA out. */
  tlsa?: string;
}

/** One record to publish, and why. */
export interface RecordToPublish {
  /** A `;` comment for the reader: why the record is there. */
  why: string;
  /** The zone-file line(s). */
  line: string;
  /** `zone` for the domain's DNS; `ptr` to ask of whoever runs the address block. */
  where: 'zone' | 'ptr';
}

/** The MTA-STS policy to serve at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 3.2). */
export function mtaStsPolicy(hostname: string): string {
  return `version: STSv1\nmode: enforce\nmx: ${hostname}\nmax_age: 604800\n`;
}

/** Every record, in the order a newcomer publishes them. */
export function recordsToPublish(input: RecordsInput): RecordToPublish[] {
  const { domain, hostname, ips } = input;
  const records: RecordToPublish[] = [
    { why: `mail for ${domain} goes to ${hostname}`, line: zoneLine(domain, 'MX', `10 ${hostname}.`), where: 'zone' },
    ...ips.map((ip) => ({
      why: `${hostname} is this server (${isIP(ip) === 4 ? 'IPv4' : 'IPv6'})`,
      line: zoneLine(hostname, isIP(ip) === 4 ? 'A' : 'AAAA', ip),
      where: 'zone' as const,
    })),
    {
      why: `SPF: only these addresses send mail as @${domain}; the rest fail`,
      line: zoneLine(domain, 'TXT', suggestedSpf(ips)),
      where: 'zone',
    },
    {
      why: `DKIM: the public key receivers verify our signatures with (selector ${input.selector})`,
      line: zoneLine(`${input.selector}._domainkey.${domain}`, 'TXT', input.dkimRecord),
      where: 'zone',
    },
    {
      why: 'DMARC: p=none to start (watch the reports), then p=quarantine once they are clean',
      line: zoneLine(`_dmarc.${domain}`, 'TXT', suggestedDmarc(domain)),
      where: 'zone',
    },
    {
      why: 'MTA-STS: senders must use TLS to us; change the id whenever the policy changes',
      line: zoneLine(`_mta-sts.${domain}`, 'TXT', `v=STSv1; id=${input.mtaStsId}`),
      where: 'zone',
    },
    {
      why: `MTA-STS: the policy host, mta-sts.${domain}, serving the policy file over HTTPS`,
      line: ips.map((ip) => zoneLine(`mta-sts.${domain}`, isIP(ip) === 4 ? 'A' : 'AAAA', ip)).join('\n'),
      where: 'zone',
    },
    {
      why: 'TLS-RPT: where senders report failures to reach us over TLS',
      line: zoneLine(`_smtp._tls.${domain}`, 'TXT', suggestedTlsRpt(domain)),
      where: 'zone',
    },
  ];
  if (input.tlsa) {
    records.push({
      why: 'DANE (the zone is DNSSEC-signed): the key of our certificate; publish the new one before a key change',
      line: zoneLine(`_25._tcp.${hostname}`, 'TLSA', input.tlsa),
      where: 'zone',
    });
  }
  for (const ip of ips) {
    records.push({
      why: `reverse DNS of ${ip}: receivers refuse mail from an address without it (ask your hosting provider)`,
      line: ptrLine(ip, hostname),
      where: 'ptr',
    });
  }
  return records;
}

/** The records as text: zone lines first, with `;` comments, then the PTRs to ask for. */
export function renderRecords(records: RecordToPublish[]): string {
  const out: string[] = [];
  for (const record of records.filter((r) => r.where === 'zone')) out.push(`; ${record.why}`, record.line);
  out.push('', "; Ask whoever runs your IP addresses (the hosting provider's panel) to set these PTR records:");
  for (const record of records.filter((r) => r.where === 'ptr')) out.push(`; ${record.why}`, record.line);
  return `${out.join('\n')}\n`;
}
