/** A DNS record to publish, exactly. */
export interface RecordToPublish {
  name: string;
  type: 'MX' | 'A' | 'AAAA' | 'PTR' | 'TXT';
  value: string;
}

/** One finding of auditDomain. */
export interface AuditFinding {
  check: 'mx' | 'address' | 'rdns' | 'fcrdns' | 'spf' | 'dkim' | 'dmarc' | 'mta-sts';
  status: 'ok' | 'warning' | 'error';
  message: string;
  /** What to publish to fix it (for PTR records: ask whoever runs the address block). */
  publish?: RecordToPublish[];
  /** A file to serve, when the fix is one (the MTA-STS policy). */
  serve?: { url: string; body: string };
}
