import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createResolver, isDnsError } from '../src/index';
import { parseZoneFile, readZoneFiles, startDnsServer, ZoneFileError } from '../src/testing';

const ZONE = `; a zone with most of what RFC 1035 5 allows
$ORIGIN example.com.
$TTL 1h
@   IN  SOA ns.example.com. hostmaster ( 2024010101 ; serial
            3600 600 1w
            300 )           ; minimum
    IN  MX  10 mx                 ; owner inherited: example.com
    IN  MX  20 mx.example.net.
    600 IN TXT "v=spf1 mx " "-all"
mx  IN 120 A 192.0.2.1
mx      AAAA 2001:db8::1
www     CNAME mx
_25._tcp.mx TLSA 3 1 1 ( AABBCCDD
                         eeff0011 )
quote   TXT "say \\"hi\\"; not a comment" "\\065\\066C"
NS1     NS  ns1.example.net.
$ORIGIN 2.0.192.in-addr.arpa.
1       PTR mx.example.com.
$ORIGIN example.org.
@       A   192.0.2.7
sub     A   192.0.2.8
`;

describe('parseZoneFile', () => {
  it('reads $ORIGIN, $TTL, comments, parentheses, relative and absolute names, @ and every supported type', () => {
    const zones = parseZoneFile(ZONE, { file: 'example.zone' });
    expect(zones['example.com']).toEqual({
      SOA: {
        mname: 'ns.example.com',
        rname: 'hostmaster.example.com',
        serial: 2024010101,
        refresh: 3600,
        retry: 600,
        expire: 604800,
        minimum: 300,
      },
      MX: [
        { priority: 10, exchange: 'mx.example.com' },
        { priority: 20, exchange: 'mx.example.net' },
      ],
      TXT: [['v=spf1 mx ', '-all']],
      ttl: 600,
    });
    expect(zones['mx.example.com']).toEqual({ A: ['192.0.2.1'], AAAA: ['2001:db8::1'], ttl: 120 });
    expect(zones['www.example.com']).toEqual({ CNAME: ['mx.example.com'], ttl: 3600 });
    expect(zones['_25._tcp.mx.example.com']?.TLSA).toEqual([
      { usage: 3, selector: 1, matchingType: 1, data: 'aabbccddeeff0011' },
    ]);
    expect(zones['quote.example.com']?.TXT).toEqual([['say "hi"; not a comment', 'ABC']]);
    expect(zones['1.2.0.192.in-addr.arpa']?.PTR).toEqual(['mx.example.com']);
    expect(zones['example.org']?.A).toEqual(['192.0.2.7']);
    expect(zones['sub.example.org']?.A).toEqual(['192.0.2.8']);
  });

  it('reads CRLF line endings and TTL units the same way', () => {
    const zones = parseZoneFile('$ORIGIN example.com.\r\n@ 1d IN A 192.0.2.1\r\nb 1h30m A 192.0.2.2\r\n');
    expect(zones['example.com']).toEqual({ A: ['192.0.2.1'], ttl: 86400 });
    expect(zones['b.example.com']).toEqual({ A: ['192.0.2.2'], ttl: 5400 });
  });

  it('takes the origin from the options, and the last stated TTL when none is given (RFC 1035 5.1)', () => {
    const zones = parseZoneFile('a 42 A 192.0.2.1\nb A 192.0.2.2\n', { origin: 'example.com' });
    expect(zones['b.example.com']?.ttl).toBe(42);
  });

  it.each([
    ['a A 192.0.2.1\n', 1, 1, /relative and no \$ORIGIN/],
    ['$ORIGIN example.com.\na A 999.0.0.1\n', 2, 5, /not an IPv4 address/],
    ['$ORIGIN example.com.\n\na   IN  HINFO x y\n', 3, 9, /record type HINFO is not supported/],
    ['$ORIGIN example.com.\na TXT "open\n', 2, 7, /quoted string is not closed/],
    ['$ORIGIN example.com.\na ( A\n 192.0.2.1\n', 2, 3, /"\(" is never closed/],
    ['$ORIGIN example.com.\na MX ten mx\n', 2, 6, /MX preference/],
    ['$ORIGIN example.com.\na MX 10\n', 2, 6, /MX needs 2 value/],
    ['$ORIGIN example.com.\na TLSA 3 1 1 xyz\n', 2, 14, /hexadecimal/],
    [`$ORIGIN example.com.\na TXT ${'x'.repeat(256)}\n`, 2, 7, /256 octets/],
    [`$ORIGIN example.com.\n${'l'.repeat(64)} A 192.0.2.1\n`, 2, 1, /over 63 octets/],
    ['$ORIGIN example.com.\na CH A 192.0.2.1\n', 2, 3, /class CH/],
    ['$INCLUDE other.zone\n', 1, 1, /not supported/],
    ['  A 192.0.2.1\n', 1, 3, /no record before it names an owner/],
  ])('reports %j with file, line and column', (text, line, column, message) => {
    let error: unknown;
    try {
      parseZoneFile(text, { file: 'bad.zone' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ZoneFileError);
    const zoneError = error as ZoneFileError;
    expect(zoneError.message).toMatch(message);
    expect({ file: zoneError.file, line: zoneError.line, column: zoneError.column }).toEqual({
      file: 'bad.zone',
      line,
      column,
    });
    expect(zoneError.message.startsWith(`bad.zone:${line}:${column}: `)).toBe(true);
    expect(isDnsError(error, 'BADZONE')).toBe(true);
  });
});

describe('zone files served over loopback', () => {
  it('reads several files, merges them, and answers from them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'homing-dns-'));
    try {
      const first = join(dir, 'example.com.zone');
      const second = join(dir, 'example.net.zone');
      await writeFile(first, ZONE);
      await writeFile(
        second,
        '$ORIGIN example.net.\n$TTL 60\n@ MX 5 mx\nmx A 192.0.2.9\n$ORIGIN example.com.\nmx A 192.0.2.3\n',
      );
      const zones = await readZoneFiles([first, second]);
      expect(zones['mx.example.com']?.A).toEqual(['192.0.2.1', '192.0.2.3']);
      const server = await startDnsServer({ zones });
      try {
        const resolver = createResolver({ servers: [server.address], cache: false, timeoutMs: 3000 });
        expect((await resolver.resolveMx('example.net')).records).toEqual([
          { exchange: 'mx.example.net', priority: 5 },
        ]);
        expect((await resolver.resolveTxt('example.com')).records).toEqual(['v=spf1 mx -all']);
        expect((await resolver.reverse('192.0.2.1')).records).toEqual(['mx.example.com']);
        const tlsa = await resolver.resolveTlsa('_25._tcp.mx.example.com');
        expect(Buffer.from(tlsa.records[0]?.data ?? []).toString('hex')).toBe('aabbccddeeff0011');
        const missing = await resolver.resolveA('nope.example.com').catch((error: unknown) => error);
        expect(isDnsError(missing, 'NXDOMAIN')).toBe(true);
      } finally {
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says which file it cannot read', async () => {
    const error = await readZoneFiles(['/nonexistent/homing.zone']).catch((caught: unknown) => caught);
    expect(isDnsError(error, 'BADZONE')).toBe(true);
    expect((error as Error).message).toMatch(/cannot read zone file \/nonexistent\/homing.zone: ENOENT/);
  });
});
