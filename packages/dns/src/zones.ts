/** One name's records and behaviour in a `startDnsServer` zone (plain data, so tests can write it inline). */
export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  MX?: { priority: number; exchange: string }[];
  /** Each record a string (split into 255-octet character-strings when longer) or an array of its character-strings. */
  TXT?: (string | string[])[];
  PTR?: string[];
  CNAME?: string[];
  /** `data` is the certificate association data in hex. */
  TLSA?: { usage: number; selector: number; matchingType: number; data: string }[];
  /** Name servers; at a zone apex they go in the authority section of answers, with in-zone addresses as glue. */
  NS?: string[];
  /** RFC 2782 service records. */
  SRV?: { priority: number; weight: number; port: number; target: string }[];
  /** RFC 8659 certification authority authorization: `flags` (128 = critical), `tag` (issue, iodef...), `value`. */
  CAA?: { flags: number; tag: string; value: string }[];
  /** The zone's SOA; served in the authority section of NXDOMAIN/NODATA answers (RFC 2308 3). */
  SOA?: SoaData;
  /** TTL in seconds of every record of this name; default 300. */
  ttl?: number;
  /** Set the AD bit on answers for this name. */
  authenticated?: boolean;
  /** Never answer queries for this name. */
  timeout?: boolean;
  /** Answer SERVFAIL. */
  servfail?: boolean;
  /** Answer REFUSED. */
  refused?: boolean;
  /** Answer FORMERR. */
  formerr?: boolean;
  /** Answer over UDP with the TC bit and no records, so that the client must retry over TCP. */
  truncate?: boolean;
}

/** SOA record fields (RFC 1035 3.3.13); `minimum` is the negative-caching TTL (RFC 2308 4). */
export interface SoaData {
  mname: string;
  rname: string;
  serial?: number;
  refresh?: number;
  retry?: number;
  expire?: number;
  minimum?: number;
}

/**
 * Zones for `startDnsServer`: owner name → its entry. An owner `*.name` is a wildcard (RFC 4592): it answers for
 * the names under `name` that do not exist.
 */
export type Zones = Record<string, ZoneEntry>;
