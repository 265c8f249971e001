import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIPv4Literal, isIPv6Literal } from '../src/core/address-literal';
import { parseMailbox } from '../src/index';

// RFC 5321 4.1.3 written out in the core (issue 11 item 7); Node's node:net is the reference here,
// in the test only, except where RFC 5321 is stricter than RFC 4291.

/** Groups an IPv6 text names besides "::" (an IPv4 tail counts as two). */
function groupCount(text: string): number {
  const v4 = text.includes('.') ? 2 : 0;
  const hexPart = v4 ? text.slice(0, text.lastIndexOf(':')) : text;
  return v4 + hexPart.split(':').filter((group) => group !== '').length;
}
/** RFC 5321: "::" stands for at least two groups, so seven groups with "::" are not allowed. */
const rfc5321IPv6 = (text: string) => isIPv6(text) && !(text.includes('::') && groupCount(text) >= 7);

describe('address literals (RFC 5321 4.1.3)', () => {
  it.each([
    ['[192.0.2.1]', true],
    ['[0.0.0.0]', true],
    ['[255.255.255.255]', true],
    ['[256.1.1.1]', false],
    ['[192.0.2]', false],
    ['[192.0.2.1.5]', false],
    ['[010.0.0.1]', false],
    ['[IPv6:2001:db8::1]', true],
    ['[ipv6:2001:DB8:0:0:0:0:0:1]', true],
    ['[IPv6:::]', true],
    ['[IPv6:::1]', true],
    ['[IPv6:1::]', true],
    ['[IPv6:1:2:3:4:5:6::]', true],
    ['[IPv6:1:2:3:4:5:6:7::]', false],
    ['[IPv6:1:2:3:4:5:6:7:8]', true],
    ['[IPv6:1:2:3:4:5:6:7:8:9]', false],
    ['[IPv6:1:2:3:4:5:6:7]', false],
    ['[IPv6:1::2::3]', false],
    ['[IPv6:12345::]', false],
    ['[IPv6:::ffff:192.0.2.1]', true],
    ['[IPv6:1:2:3:4:5:6:192.0.2.1]', true],
    ['[IPv6:1:2:3:4::192.0.2.1]', true],
    ['[IPv6:1:2:3:4:5::192.0.2.1]', false],
    ['[IPv6:::192.0.2.256]', false],
    ['[IPv6:fe80::1%eth0]', false],
    ['[IPv6:192.0.2.1]', false],
    ['[IPv6:]', false],
    ['[x-tag:some.content]', true],
    ['[tag:]', false],
    ['[-tag:x]', true],
    ['[tag-:x]', false],
    ['[tag:with space]', false],
    ['[tag:with[bracket]', false],
    ['[]', false],
  ])('%s is %s', (literal, valid) => {
    const result = parseMailbox(`user@${literal}`);
    expect(result.ok, literal).toBe(valid);
    if (result.ok) expect(result.mailbox.domain).toBe(literal);
  });

  it('agrees with node:net on every IPv4 address and on random dotted strings', () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        expect(isIPv4Literal(address), address).toBe(true);
      }),
    );
    const dotted = fc.array(fc.constantFrom('0', '1', '2', '5', '9', '00', '25', '255', '256', '.'), { maxLength: 12 });
    fc.assert(
      fc.property(dotted, (parts) => {
        const text = parts.join('');
        expect(isIPv4Literal(text), text).toBe(isIPv4(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with node:net on IPv6, but for the one-group "::" RFC 5321 forbids', () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        expect(isIPv6Literal(address), address).toBe(rfc5321IPv6(address));
      }),
      { numRuns: 2000 },
    );
    const pieces = fc.array(fc.constantFrom('0', 'a', 'ffff', '12345', ':', '::', '1.2.3.4', '.', '255'), {
      maxLength: 14,
    });
    fc.assert(
      fc.property(pieces, (parts) => {
        const text = parts.join('');
        expect(isIPv6Literal(text), text).toBe(rfc5321IPv6(text));
      }),
      { numRuns: 5000 },
    );
  });
});
