import { isIP } from 'node:net';
import { DnsError } from '../dns-error';

// RFC 1035 2.3.4: a label is at most 63 octets, a name at most 255 octets on the wire.
const MAX_LABEL_OCTETS = 63;
const MAX_NAME_OCTETS = 255;

/**
 * Checks that `name` can be sent as a DNS question and returns it without its trailing dot.
 * Any octet is allowed inside a label (RFC 2181 11): SPF macros build names with `@`, spaces or `%`.
 */
export function checkName(name: unknown, type?: string): string {
  if (typeof name !== 'string') {
    throw new DnsError('BADNAME', `a DNS name must be a string, not ${typeof name}`, { type });
  }
  const bare = name.endsWith('.') && name !== '.' ? name.slice(0, -1) : name;
  if (bare === '' || bare === '.') {
    throw new DnsError('BADNAME', 'the DNS name is empty', { hostname: name, type });
  }
  if (isShortAsciiName(bare)) return bare;
  let wireLength = 1; // the root label's zero octet
  for (const label of bare.split('.')) {
    const octets = Buffer.byteLength(label);
    if (octets === 0) {
      throw new DnsError('BADNAME', `"${name}" has an empty label`, { hostname: name, type });
    }
    if (octets > MAX_LABEL_OCTETS) {
      throw new DnsError('BADNAME', `"${name}" has a label of ${octets} octets; the limit is 63 (RFC 1035 2.3.4)`, {
        hostname: name,
        type,
      });
    }
    wireLength += octets + 1;
  }
  if (wireLength > MAX_NAME_OCTETS) {
    throw new DnsError('BADNAME', `"${name}" is ${wireLength} octets long; the limit is 255 (RFC 1035 2.3.4)`, {
      hostname: name,
      type,
    });
  }
  return bare;
}

/** The quick check of checkName for an ASCII name (one octet per character): labels of 1-63, 255 in all. */
function isShortAsciiName(name: string): boolean {
  if (name.length > MAX_NAME_OCTETS - 2) return false;
  let labelStart = 0;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x80) return false;
    if (code === 0x2e) {
      if (i === labelStart || i - labelStart > MAX_LABEL_OCTETS) return false;
      labelStart = i + 1;
    }
  }
  return name.length - labelStart >= 1 && name.length - labelStart <= MAX_LABEL_OCTETS;
}

/** Compares DNS names as DNS does: ASCII letters without regard to case (RFC 4343), trailing dot ignored. */
export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** The lower-case form of a name without trailing dot, used as a cache and lookup key. */
export function canonicalName(name: string): string {
  const bare = name.endsWith('.') && name !== '.' ? name.slice(0, -1) : name;
  // Only ASCII letters fold (RFC 4343 3): toLowerCase would also change other octets.
  return /[A-Z]/.test(bare) ? bare.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()) : bare;
}

/** The reverse-lookup name of an IPv4 (in-addr.arpa, RFC 1035 3.5) or IPv6 address (ip6.arpa, RFC 3596 2.5). */
export function reverseName(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family === 6) {
    const nibbles = expandIpv6(ip).split('').reverse().join('.');
    return `${nibbles}.ip6.arpa`;
  }
  throw new DnsError('BADNAME', `"${ip}" is not an IPv4 or IPv6 address`, { hostname: ip, type: 'PTR' });
}

/** The 32 hex digits of an IPv6 address (also with an embedded IPv4 tail). */
function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    const tail = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    text = text.slice(0, v4.index) + tail;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array(rest === undefined ? 0 : missing).fill('0'), ...restGroups];
  return groups.map((group) => group.padStart(4, '0')).join('');
}
