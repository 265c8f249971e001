import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '@homing/dns';

/** The outcome of matching a certificate chain against a TLSA RRset (RFC 7672 2.2, 3). */
export interface DaneMatch {
  /**
   * `matched`: the chain is authenticated by a record. `mismatch`: usable records exist and
   * none authenticates the chain (the delivery must be deferred). `unusable`: no record is
   * usable for SMTP (RFC 7672 2.2: TLS is still mandatory, but not authenticated).
   */
  status: 'matched' | 'mismatch' | 'unusable';
  /** The record that matched. */
  record?: TlsaRecord;
  /** Why, for logs and the deferral reason. */
  reason: string;
}

/** Options of `matchTlsa`. */
export interface DaneMatchOptions {
  /**
   * Reference identifiers for DANE-TA(2): the MX host name and the next-hop domain
   * (RFC 7672 3.2.2). DANE-EE(3) ignores names (RFC 7672 3.1.1).
   */
  hostnames: string[];
  /** The clock the server certificate's validity is checked against (DANE-TA only): ms since the epoch, default `Date.now`. */
  now?: () => number;
}

/** RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP; only DANE-TA(2) and DANE-EE(3) are. */
function usable(record: TlsaRecord): boolean {
  return (
    (record.usage === 2 || record.usage === 3) &&
    (record.selector === 0 || record.selector === 1) &&
    record.matchingType >= 0 &&
    record.matchingType <= 2
  );
}

/** The data a record's selector picks from a certificate (RFC 6698 2.1.2): the whole DER, or its SubjectPublicKeyInfo. */
function selected(certificate: X509Certificate, selector: number): Buffer {
  if (selector === 0) return certificate.raw;
  return certificate.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
}

/** The association data (RFC 6698 2.1.3): exact, SHA2-256 or SHA2-512 of the selected data. */
function associated(data: Buffer, matchingType: number): Buffer {
  if (matchingType === 1) return createHash('sha256').update(data).digest();
  if (matchingType === 2) return createHash('sha512').update(data).digest();
  return data;
}

function matches(record: TlsaRecord, certificate: X509Certificate): boolean {
  return associated(selected(certificate, record.selector), record.matchingType).equals(Buffer.from(record.data));
}

function nameMatches(certificate: X509Certificate, hostnames: string[]): boolean {
  return hostnames.some((name) => certificate.checkHost(name.replace(/\.$/, ''), { subject: 'default' }) !== undefined);
}

/**
 * Matches a server's certificate chain (leaf first, as sent in the TLS handshake) against the
 * TLSA records of `_25._tcp.<mx host>` (RFC 7672 3). DANE-EE(3) matches the leaf alone, with no
 * name or expiry check (RFC 7672 3.1.1). DANE-TA(2) matches a certificate of the chain, which
 * must then issue the leaf through the chain (signatures checked), and the leaf must name one
 * of `hostnames` and be within its validity period (RFC 7672 3.1.2, 3.2.2). A pure function:
 * the caller gets the TLSA answer (with the AD bit, RFC 7672 2.2) and the chain itself.
 */
export function matchTlsa(
  records: readonly TlsaRecord[],
  chain: readonly (X509Certificate | Uint8Array)[],
  options: DaneMatchOptions,
): DaneMatch {
  const usableRecords = records.filter(usable);
  if (usableRecords.length === 0) {
    return { status: 'unusable', reason: 'no TLSA record is usable for SMTP (RFC 7672 3.1.3)' };
  }
  let certificates: X509Certificate[];
  try {
    certificates = chain.map((entry) => (entry instanceof X509Certificate ? entry : new X509Certificate(entry)));
  } catch {
    return { status: 'mismatch', reason: 'the server certificate chain cannot be parsed' };
  }
  const leaf = certificates[0];
  if (leaf === undefined) return { status: 'mismatch', reason: 'the server sent no certificate' };

  for (const record of usableRecords) {
    if (record.usage === 3 && matches(record, leaf)) {
      return { status: 'matched', record, reason: 'DANE-EE(3) record matches the server certificate' };
    }
  }
  const now = new Date((options.now ?? Date.now)());
  let nameProblem = false;
  for (const record of usableRecords) {
    if (record.usage !== 2) continue;
    const anchor = certificates.findIndex((certificate) => matches(record, certificate));
    if (anchor < 0) continue;
    let chained = true;
    for (let index = 0; index < anchor; index += 1) {
      const subject = certificates[index]!;
      const issuer = certificates[index + 1]!;
      if (!subject.checkIssued(issuer) || !subject.verify(issuer.publicKey)) chained = false;
    }
    if (!chained) continue;
    const current = now.getTime() >= Date.parse(leaf.validFrom) && now.getTime() <= Date.parse(leaf.validTo);
    if (!current || !nameMatches(leaf, options.hostnames)) {
      nameProblem = true;
      continue;
    }
    return { status: 'matched', record, reason: 'DANE-TA(2) record matches a trust anchor of the chain' };
  }
  return {
    status: 'mismatch',
    reason: nameProblem
      ? `the certificate chains to a DANE-TA anchor but does not name ${options.hostnames.join(' or ')} or is expired`
      : 'no TLSA record matches the server certificate chain',
  };
}
