// What DNSBL answers mean. RFC 5782 2.1: a listing is an A record in 127.0.0.0/8; lists use
// 127.255.255.0/24 for their own error replies (Spamhaus: "query refused" and the like), which
// must never be read as a listing.

/** Spamhaus ZEN return codes (https://www.spamhaus.org/faqs/dnsbl-usage/). */
const spamhaus: Record<string, string> = {
  '127.0.0.2': 'SBL: Spamhaus SBL data (spam source)',
  '127.0.0.3': 'SBL CSS: Spamhaus CSS data (snowshoe spam)',
  '127.0.0.4': 'XBL: exploited host (CBL data)',
  '127.0.0.5': 'XBL: exploited host',
  '127.0.0.6': 'XBL: exploited host',
  '127.0.0.7': 'XBL: exploited host',
  '127.0.0.9': 'SBL DROP/EDROP: hijacked or criminal network',
  '127.0.0.10': 'PBL: end-user range (ISP maintained) that should not send mail directly',
  '127.0.0.11': 'PBL: end-user range (Spamhaus maintained) that should not send mail directly',
};

const spamhausErrors: Record<string, string> = {
  '127.255.255.252': 'query refused: typing error in the DNSBL name',
  '127.255.255.254': 'query refused: queried through a public or open resolver',
  '127.255.255.255': 'query refused: excessive number of queries',
};

/** What one answer record of a DNSBL zone means. */
export type DnsblCode =
  | { kind: 'listed'; code: string; meaning: string }
  | { kind: 'error'; code: string; meaning: string };

function isSpamhaus(zone: string): boolean {
  return /(^|\.)spamhaus\.org$/i.test(zone) || /\.dq\.spamhaus\.net$/i.test(zone);
}

/** Classifies one A record returned by `zone`. */
export function classifyDnsblAnswer(zone: string, code: string): DnsblCode {
  if (!/^127\.\d+\.\d+\.\d+$/.test(code)) {
    return { kind: 'error', code, meaning: 'answer outside 127.0.0.0/8 (RFC 5782 2.1): not a listing' };
  }
  if (code.startsWith('127.255.255.')) {
    const meaning = (isSpamhaus(zone) ? spamhausErrors[code] : undefined) ?? 'the list refused the query';
    return { kind: 'error', code, meaning };
  }
  const meaning = (isSpamhaus(zone) ? spamhaus[code] : undefined) ?? 'listed';
  return { kind: 'listed', code, meaning };
}
