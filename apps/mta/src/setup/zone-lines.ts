// DNS records as zone-file lines (RFC 1035 5.1), the form every DNS panel and `homing dns serve` reads.
import { isIP } from 'node:net';

/** The record types doctor and quickstart ask for. */
export type RecordType = 'MX' | 'A' | 'AAAA' | 'PTR' | 'TXT' | 'TLSA';

/** The TTL of the lines we print: an hour, short enough to fix a mistake the same day. */
export const recordTtl = 3600;

/** A TXT value as quoted character-strings of at most 255 octets each (RFC 1035 3.3.14). */
export function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let at = 0; at < value.length || parts.length === 0; at += 255) parts.push(value.slice(at, at + 255));
  return parts.map((part) => `"${part.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(' ');
}

/** One zone-file line: `name. TTL IN TYPE value` (names absolute, TXT quoted). */
export function zoneLine(name: string, type: RecordType, value: string): string {
  const owner = `${name.replace(/\.$/, '')}.`;
  return `${owner} ${recordTtl} IN ${type} ${type === 'TXT' ? quoteTxt(value) : value}`;
}

/** The reverse-DNS name of an address: `4.3.2.1.in-addr.arpa` or the nibbles under `ip6.arpa` (RFC 3596 2.5). */
export function reverseName(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) throw new Error(`${ip} is not an IP address`);
  return `${expandIpv6(ip).split('').reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address. */
function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const octets = (v4[1] as string).split('.').map(Number);
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    text = text.replace(v4[1] as string, `${hex(octets[0]!, octets[1]!)}:${hex(octets[2]!, octets[3]!)}`);
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => group.padStart(4, '0')).join('');
}

/** A PTR line for an address, to hand to whoever runs the address block. */
export function ptrLine(ip: string, hostname: string): string {
  return zoneLine(reverseName(ip), 'PTR', `${hostname.replace(/\.$/, '')}.`);
}
