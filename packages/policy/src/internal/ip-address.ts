import { isIPv4, isIPv6 } from 'node:net';
import { PolicyError } from '../errors';

/** A parsed IP address: IPv4-mapped IPv6 addresses are unwrapped to IPv4 (RFC 7208 5: checks use the IPv4 address). */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
  /** Canonical text: dotted quad, or compressed lower-case IPv6. */
  text: string;
}

function parseIpv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map((part) => Number(part)));
}

function parseIpv6Bytes(text: string): Uint8Array {
  let source = text.toLowerCase();
  const bytes = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) is two groups.
  const lastColon = source.lastIndexOf(':');
  const tail = source.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIpv4Bytes(tail);
    source = `${source.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, rest] = source.includes('::') ? source.split('::') : [source, undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest ? rest.split(':') : [];
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...new Array(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  groups.forEach((group, index) => {
    const value = Number.parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952 4.2: compress the longest run (of two or more) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses an IPv4 or IPv6 address, or returns undefined. */
export function tryParseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) {
    const bytes = parseIpv4Bytes(text);
    return { family: 4, bytes, text: Array.from(bytes).join('.') };
  }
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const bytes = parseIpv6Bytes(text);
  const mapped = bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) {
    const v4 = bytes.slice(12);
    return { family: 4, bytes: v4, text: Array.from(v4).join('.') };
  }
  return { family: 6, bytes, text: formatIpv6(bytes) };
}

/** Parses an IP address or throws a PolicyError BAD_INPUT that says what was wrong. */
export function parseIp(text: string): IpAddress {
  const parsed = tryParseIp(text);
  if (!parsed) throw new PolicyError('BAD_INPUT', `not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
  return parsed;
}

/** True when `address` lies in the network `network`/`prefixLength` (same family only). */
export function inNetwork(address: IpAddress, network: IpAddress, prefixLength: number): boolean {
  if (address.family !== network.family) return false;
  const fullBytes = Math.floor(prefixLength / 8);
  for (let i = 0; i < fullBytes; i += 1) if (address.bytes[i] !== network.bytes[i]) return false;
  const restBits = prefixLength % 8;
  if (restBits === 0) return true;
  const mask = (0xff << (8 - restBits)) & 0xff;
  return (address.bytes[fullBytes]! & mask) === (network.bytes[fullBytes]! & mask);
}

/** The reverse-lookup labels: reversed octets for IPv4, reversed nibbles for IPv6 (RFC 7208 7.3 "i"). */
export function reversedLabels(address: IpAddress): string[] {
  if (address.family === 4) return Array.from(address.bytes, String).reverse();
  return nibbles(address).reverse();
}

/** The 32 nibbles of an IPv6 address, most significant first. */
export function nibbles(address: IpAddress): string[] {
  const out: string[] = [];
  for (const byte of address.bytes) out.push((byte >> 4).toString(16), (byte & 0xf).toString(16));
  return out;
}
