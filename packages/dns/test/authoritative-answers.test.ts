// The test server's answers, one rule each, through its sans-IO core (query bytes in, response bytes out).
// nsd-compare.test.ts checks the same behaviour against NSD over real sockets.
import * as packet from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerQuery, indexZones } from '../src/internal/zone-answer';
import { parseZoneFile, type Zones } from '../src/testing';

const zones: Zones = {
  'example.com': {
    SOA: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', minimum: 60 },
    NS: ['ns1.example.com', 'ns.elsewhere.net'],
    MX: [{ priority: 10, exchange: 'mx.example.com' }],
    A: ['192.0.2.1'],
    ttl: 3600,
  },
  'ns1.example.com': { A: ['192.0.2.53'], AAAA: ['2001:db8::53'] },
  'mx.example.com': { A: ['192.0.2.25'] },
  '*.wild.example.com': { A: ['192.0.2.99'] },
  '*.alias.example.com': { CNAME: ['mx.example.com'] },
  'big.example.com': { TXT: Array.from({ length: 12 }, (_, i) => `${i} ${'x'.repeat(180)}`) },
  'fat.example.com': { TXT: ['y'.repeat(430)] },
};
const index = indexZones(zones);

interface QueryOptions {
  class?: string;
  opcode?: number;
  edns?: false | { size?: number; version?: number; do?: boolean };
  transport?: 'udp' | 'tcp';
}

type Decoded = packet.DecodedPacket & { rcode: string; flag_aa: boolean; flag_tc: boolean; opcode: string };

function ask(name: string, type: string, options: QueryOptions = {}): { decoded: Decoded; bytes: Buffer } {
  const edns = options.edns ?? {};
  const query = packet.encode({
    type: 'query',
    id: 77,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: type as packet.RecordType, class: (options.class ?? 'IN') as 'IN' }],
    additionals:
      edns === false
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: edns.size ?? 1232,
              ednsVersion: edns.version ?? 0,
              flags: edns.do ? packet.DNSSEC_OK : 0,
            } as packet.Answer,
          ],
  });
  if (options.opcode !== undefined) query.writeUInt16BE((query.readUInt16BE(2) & ~0x7800) | (options.opcode << 11), 2);
  const bytes = answerQuery(index, query, options.transport ?? 'udp');
  if (bytes === undefined) throw new Error(`no answer to ${name} ${type}`);
  return { decoded: packet.decode(bytes) as Decoded, bytes };
}

const opt = (decoded: Decoded) =>
  decoded.additionals?.find((record) => record.type === 'OPT') as
    | { udpPayloadSize: number; extendedRcode: number; ednsVersion: number; flag_do: boolean }
    | undefined;
const names = (records: packet.Answer[] | undefined) =>
  (records ?? []).filter((record) => record.type !== 'OPT').map((record) => `${record.name} ${record.type}`);

describe('negative answers (RFC 2308 3)', () => {
  it('carry the SOA with the TTL min(SOA TTL, MINIMUM)', () => {
    for (const [name, rcode] of [
      ['nope.example.com', 'NXDOMAIN'],
      ['mx.example.com', 'NOERROR'],
    ]) {
      const { decoded } = ask(name as string, 'TXT');
      expect(decoded.rcode).toBe(rcode);
      expect(decoded.authorities).toMatchObject([{ name: 'example.com', type: 'SOA', ttl: 60 }]);
    }
  });
});

describe('what is not a query of class IN', () => {
  it('refuses class CH, without AA, echoing the question', () => {
    const { decoded } = ask('version.bind', 'TXT', { class: 'CH' });
    expect(decoded).toMatchObject({ rcode: 'REFUSED', flag_aa: false, answers: [] });
    expect(decoded.questions).toEqual([{ name: 'version.bind', type: 'TXT', class: 'CH' }]);
  });

  it('answers NOTIMP to opcodes other than QUERY, never silence', () => {
    for (const opcode of [1, 2, 4, 5]) {
      const { decoded } = ask('example.com', 'SOA', { opcode });
      expect(decoded.rcode).toBe('NOTIMP');
      expect(decoded.id).toBe(77);
    }
  });

  it('answers BADVERS to EDNS versions above 0, with version 0 in its OPT (RFC 6891 6.1.3)', () => {
    const { decoded } = ask('example.com', 'A', { edns: { version: 1 } });
    expect(decoded.answers).toEqual([]);
    expect(opt(decoded)).toMatchObject({ extendedRcode: 1, ednsVersion: 0 });
  });

  it('refuses names outside its zones without setting AA', () => {
    const { decoded } = ask('example.org', 'A');
    expect(decoded).toMatchObject({ rcode: 'REFUSED', flag_aa: false });
  });
});

describe('EDNS0', () => {
  it('copies the DO bit into its OPT (RFC 3225 3) and advertises 1232 octets', () => {
    expect(opt(ask('example.com', 'A', { edns: { do: true } }).decoded)).toMatchObject({
      flag_do: true,
      udpPayloadSize: 1232,
    });
    expect(opt(ask('example.com', 'A').decoded)?.flag_do).toBe(false);
  });

  it('caps UDP answers at 1232 octets whatever the client offers, then sets TC', () => {
    const { decoded, bytes } = ask('big.example.com', 'TXT', { edns: { size: 4096 } });
    expect(decoded.flag_tc).toBe(true);
    expect(decoded.answers).toEqual([]);
    expect(bytes.length).toBeLessThanOrEqual(1232);
    expect(ask('big.example.com', 'TXT', { transport: 'tcp' }).decoded.answers).toHaveLength(12);
  });

  it('leaves out additional data, then the NS, before it truncates an answer', () => {
    const { decoded, bytes } = ask('fat.example.com', 'TXT', { edns: false });
    expect(decoded.flag_tc).toBe(false);
    expect(names(decoded.answers)).toEqual(['fat.example.com TXT']);
    expect(decoded.authorities).toEqual([]);
    expect(bytes.length).toBeLessThanOrEqual(512);
  });
});

describe('wildcards (RFC 4592)', () => {
  it('synthesise records for names that do not exist under the wildcard, owned by the name asked', () => {
    const { decoded } = ask('a.b.wild.example.com', 'A');
    expect(decoded).toMatchObject({ rcode: 'NOERROR', flag_aa: true });
    expect(decoded.answers).toMatchObject([{ name: 'a.b.wild.example.com', type: 'A', data: '192.0.2.99' }]);
  });

  it('follow a wildcard CNAME, and answer the literal * name as itself', () => {
    expect(names(ask('x.alias.example.com', 'A').decoded.answers)).toEqual([
      'x.alias.example.com CNAME',
      'mx.example.com A',
    ]);
    expect(names(ask('*.wild.example.com', 'A').decoded.answers)).toEqual(['*.wild.example.com A']);
  });

  it('do not answer for the name that holds them, which is an empty non-terminal', () => {
    const { decoded } = ask('wild.example.com', 'A');
    expect(decoded.rcode).toBe('NOERROR');
    expect(decoded.answers).toEqual([]);
  });
});

describe('NS, glue and name compression', () => {
  it('serves the NS RRset, with the in-zone addresses of its targets as glue', () => {
    const { decoded } = ask('example.com', 'NS');
    expect(names(decoded.answers)).toEqual(['example.com NS', 'example.com NS']);
    expect(decoded.authorities).toEqual([]);
    expect(names(decoded.additionals)).toEqual(['ns1.example.com A', 'ns1.example.com AAAA']);
  });

  it('puts the zone NS in the authority section of positive answers, and MX targets in the additional one', () => {
    const { decoded } = ask('example.com', 'MX');
    expect(names(decoded.authorities)).toEqual(['example.com NS', 'example.com NS']);
    expect(names(decoded.additionals).sort()).toEqual([
      'mx.example.com A',
      'ns1.example.com A',
      'ns1.example.com AAAA',
    ]);
  });

  it('compresses names: the answer is smaller than the same message written without compression', () => {
    const { decoded, bytes } = ask('example.com', 'MX');
    const uncompressed = packet.encode({ ...decoded, type: 'response' });
    expect(bytes.length).toBeLessThan(uncompressed.length - 40);
    // The owner of the first answer is a pointer to the question's name at offset 12.
    const answerStart = 12 + 'example.com'.length + 2 + 4;
    expect(bytes.readUInt16BE(answerStart)).toBe(0xc00c);
  });
});

describe('zone files with NS, SRV, CAA and wildcards', () => {
  it('loads and serves them', () => {
    const fileZones = parseZoneFile(
      [
        '$ORIGIN example.net.',
        '@ 300 IN SOA ns.example.net. h.example.net. 1 2 3 4 5',
        '@ IN NS ns',
        '@ IN CAA 0 issue "ca.example"',
        '_sip._tcp IN SRV 10 60 5060 sip',
        '*.any IN TXT "wild"',
        'ns IN A 192.0.2.2',
      ].join('\n'),
    );
    expect(fileZones['example.net']).toMatchObject({
      NS: ['ns.example.net'],
      CAA: [{ flags: 0, tag: 'issue', value: 'ca.example' }],
    });
    expect(fileZones['_sip._tcp.example.net']?.SRV).toEqual([
      { priority: 10, weight: 60, port: 5060, target: 'sip.example.net' },
    ]);
    const served = indexZones(fileZones);
    const query = packet.encode({ type: 'query', id: 1, questions: [{ name: 'x.any.example.net', type: 'TXT' }] });
    const decoded = packet.decode(answerQuery(served, query, 'udp') as Buffer);
    expect(decoded.answers).toMatchObject([{ name: 'x.any.example.net', type: 'TXT' }]);
    const caa = packet.encode({ type: 'query', id: 2, questions: [{ name: 'example.net', type: 'CAA' }] });
    expect(packet.decode(answerQuery(served, caa, 'udp') as Buffer).answers).toMatchObject([
      { type: 'CAA', data: { flags: 0, tag: 'issue', value: 'ca.example' } },
    ]);
  });
});

describe('bad input', () => {
  it('answers any bytes without throwing: nothing, a bare header or an answer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, withHeader) => {
        const message = Buffer.from(withHeader ? [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, ...bytes] : bytes);
        const response = answerQuery(index, message, 'udp');
        if (response !== undefined) expect(response.length).toBeGreaterThanOrEqual(12);
      }),
      { numRuns: 2000 },
    );
  });

  it('answers SERVFAIL for zone data the wire cannot carry, instead of crashing', () => {
    const broken = indexZones({
      'example.com': { MX: [{ priority: 70_000, exchange: 'mx.example.com' }], AAAA: ['nope'] },
    });
    for (const type of ['MX', 'AAAA']) {
      const query = packet.encode({ type: 'query', id: 5, questions: [{ name: 'example.com', type: type as 'MX' }] });
      expect((packet.decode(answerQuery(broken, query, 'udp') as Buffer) as Decoded).rcode).toBe('SERVFAIL');
    }
  });
});
