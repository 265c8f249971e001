// The zones of the void-lookup tests (spf-void-lookups.test.ts, in memory; spf-void-pyspf.test.ts, over the
// loopback DNS server against pyspf), and the cases both run.
import type { Zones } from './memory-resolver';

// Names under gone.example.com do not exist (NXDOMAIN); 192.0.2.1 has no PTR record.
export const voidLookupZones: Zones = {
  'mx3.example.com': {
    TXT: ['v=spf1 mx +all'],
    MX: [1, 2, 3].map((i) => ({ priority: i, exchange: `m${i}.gone.example.com` })),
  },
  'mx2.example.com': {
    TXT: ['v=spf1 mx +all'],
    MX: [1, 2].map((i) => ({ priority: i, exchange: `m${i}.gone.example.com` })),
  },
  'ptr.example.com': { TXT: ['v=spf1 ptr a:a1.gone.example.com a:a2.gone.example.com +all'] },
  'ptrnames.example.com': { TXT: ['v=spf1 ptr +all'] },
  '2.2.0.192.in-addr.arpa': { PTR: ['n1.example.com', 'n2.gone.example.com', 'n3.gone.example.com'] },
  'n1.example.com': { AAAA: ['2001:db8::1'] }, // exists, but no A: NODATA
  'ptrtwice.example.com': { TXT: ['v=spf1 ptr:a.example.com ptr:b.example.com a:a1.gone.example.com +all'] },
  'pmacro.example.com': { TXT: ['v=spf1 a:%{p}.p.example.com a:a1.gone.example.com a:a2.gone.example.com +all'] },
  'pmacro2.example.com': { TXT: ['v=spf1 a:%{p}.p.example.com a:%{p}.p.example.com/8 a:a1.gone.example.com +all'] },
  'unknown.p.example.com': { A: ['198.51.100.1'] },
  'include.example.com': { TXT: ['v=spf1 include:i.gone.example.com +all'] },
};

/** Sender domain and client address of each case. */
export const voidLookupCases: [domain: string, ip: string][] = [
  ['mx3.example.com', '192.0.2.1'],
  ['mx2.example.com', '192.0.2.1'],
  ['mx2.example.com', '198.51.100.7'],
  ['ptr.example.com', '192.0.2.1'],
  ['ptrnames.example.com', '192.0.2.2'],
  ['ptrtwice.example.com', '192.0.2.1'],
  ['pmacro.example.com', '192.0.2.1'],
  ['pmacro2.example.com', '192.0.2.1'],
  ['include.example.com', '192.0.2.1'],
  ['nothing.gone.example.com', '192.0.2.1'],
];
