/** A relay that takes all mail (smarthost mode). */
export interface Smarthost {
  /** Host name (resolved with the agent's resolver) or IP address. */
  host: string;
  /** Default 587 (465 with `tls: 'implicit'`). */
  port?: number;
  /** AUTH PLAIN/LOGIN credentials (RFC 4954), sent only under TLS. */
  auth?: { user: string; pass: string; method?: 'PLAIN' | 'LOGIN' };
  /** Default `required` (certificate verified for `host`) with `auth`, `opportunistic` without. */
  tls?: 'required' | 'opportunistic' | 'implicit';
}

/** A smarthost's TLS: as configured, else required with AUTH (credentials never go in clear) and opportunistic without. */
export function smarthostTls(smarthost: Smarthost): 'required' | 'opportunistic' | 'implicit' {
  return smarthost.tls ?? (smarthost.auth === undefined ? 'opportunistic' : 'required');
}
