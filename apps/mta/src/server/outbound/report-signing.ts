// DKIM signatures on the reports we send to remote senders: a DSN is mail from us like any other,
// and a receiver that checks DMARC for `MAILER-DAEMON@{hostname}` needs a signature aligned with
// it (RFC 7489 3.1.1, relaxed: the same organizational domain). Reports into our own mailboxes
// stay as they are; nothing checks them.
import { type SignatureOptions, signMessage } from '@homing/dkim';

/** What the signer needs, read at each report (a reload changes domains and keys). */
export interface ReportSigningOptions {
  hostname: () => string;
  domains: () => readonly string[];
  signatures: (domain: string) => SignatureOptions[] | undefined;
}

/**
 * The domain whose key signs a report from `MAILER-DAEMON@{hostname}`: the longest of our domains
 * that is the host name or a parent of it (aligned), else our first domain (a valid signature,
 * though not aligned with a host name outside our domains).
 */
export function reportSigningDomain(hostname: string, domains: readonly string[]): string | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const parents = domains
    .map((domain) => domain.toLowerCase().replace(/\.$/, ''))
    .filter((domain) => host === domain || host.endsWith(`.${domain}`))
    .sort((a, b) => b.length - a.length);
  return parents[0] ?? domains[0]?.toLowerCase();
}

/** A function that puts our DKIM-Signature(s) before a report; the report as it is without a key. */
export function reportSigner(options: ReportSigningOptions): (message: Buffer) => Buffer {
  return (message) => {
    const domain = reportSigningDomain(options.hostname(), options.domains());
    const signatures = domain === undefined ? undefined : options.signatures(domain);
    if (signatures === undefined || signatures.length === 0) return message;
    return Buffer.concat([Buffer.from(signMessage(message, { signatures }).header, 'latin1'), message]);
  };
}
