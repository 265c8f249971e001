// The address literals of RFC 5321 4.1.3, written out so that the core needs no `node:net`:
//   IPv4-address-literal = Snum 3("." Snum)
//   IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp

// Snum is "1*3DIGIT representing a decimal integer value in the range 0 through 255". A leading zero
// is refused, as Node's own isIPv4 does: inet_aton(3) reads "010" as octal 8, so such a literal
// could name another host for the resolver than for us.
const SNUM = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${SNUM}(?:\\.${SNUM}){3}$`);
// IPv6-hex = 1*4HEXDIG
const HEX = /^[0-9A-Fa-f]{1,4}$/;

/** True for an RFC 5321 IPv4-address-literal without its brackets: `192.0.2.1`. */
export function isIPv4Literal(text: string): boolean {
  return IPV4.test(text);
}

/**
 * True for an RFC 5321 IPv6-addr (what follows `IPv6:`): full (8 groups), compressed (`::` and at
 * most 6 groups), and both with an IPv4 tail (6 groups, or `::` and at most 4). RFC 5321 is
 * stricter than RFC 4291 here: "::" stands for at least two groups of zeros, and zone ids
 * (`%eth0`) are not part of the grammar.
 */
export function isIPv6Literal(text: string): boolean {
  let body = text;
  let groups = 8;
  const lastColon = text.lastIndexOf(':');
  if (lastColon === -1) return false;
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // IPv6v4-full / IPv6v4-comp: the IPv4 part takes the place of the last two groups.
    if (!IPV4.test(tail)) return false;
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
    groups = 6;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const hexes = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  if (!hexes.every((hex) => HEX.test(hex))) return false;
  // Without "::" every group is there; with it, it stands for two groups at least.
  return halves.length === 1 ? hexes.length === groups : hexes.length <= groups - 2;
}
