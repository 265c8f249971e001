import { describe, expect, it } from 'vitest';
import { checkSpf, isPolicyError } from '../src/index';
import { createMemoryResolver, type Zones } from './helpers/memory-resolver';

const zones: Zones = {
  'example.com': { TXT: ['v=spf1 include:_spf.example.net -all exp=why.example.com', 'unrelated text'] },
  '_spf.example.net': { TXT: ['v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all'] },
  'why.example.com': { TXT: ['%{i} may not send for %{d}'] },
  'r.example.com': { TXT: ['v=spf1 -all exp=why-r.example.com'] },
  'why-r.example.com': { TXT: ['%{r} refuses %{i}'] },
  'mail.example.org': { TXT: ['v=spf1 a -all'], A: ['198.51.100.7'] },
  'voids.example.com': { TXT: ['v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com +all'] },
  'deep.example.com': { TXT: [`v=spf1 ${Array.from({ length: 11 }, (_, i) => `a:h${i}.example.org`).join(' ')} -all`] },
  'slow.example.com': { timeout: true },
  'broken.example.com': { servfail: true },
  'incslow.example.com': { TXT: ['v=spf1 include:slow.example.com -all'] },
};
for (let i = 0; i < 11; i += 1) zones[`h${i}.example.org`] = { A: ['203.0.113.1'] };

const resolver = createMemoryResolver(zones);

describe('checkSpf', () => {
  it('passes an address the include authorises, saying which term matched', async () => {
    const result = await checkSpf({ ip: '192.0.2.10', helo: 'mx.example.com', sender: 'a@example.com' }, { resolver });
    expect(result).toMatchObject({
      result: 'pass',
      identity: 'mailfrom',
      domain: 'example.com',
      mechanism: 'include:_spf.example.net',
      record: 'v=spf1 include:_spf.example.net -all exp=why.example.com',
      lookups: 1,
    });
    expect(result.explanation).toBeUndefined();
  });

  it('fails other addresses with the expanded exp= explanation', async () => {
    const result = await checkSpf({ ip: '203.0.113.9', helo: 'x', sender: 'a@example.com' }, { resolver });
    expect(result.result).toBe('fail');
    expect(result.mechanism).toBe('-all');
    expect(result.explanation).toBe('203.0.113.9 may not send for example.com');
  });

  it('expands %{r} to the hostname option (and to the deprecated receiver, when hostname is not given)', async () => {
    const input = { ip: '203.0.113.9', helo: 'x', sender: 'a@r.example.com' };
    expect((await checkSpf(input, { resolver, hostname: 'mx.example.net' })).explanation).toBe(
      'mx.example.net refuses 203.0.113.9',
    );
    expect((await checkSpf(input, { resolver, receiver: 'old.example.net' })).explanation).toBe(
      'old.example.net refuses 203.0.113.9',
    );
    expect((await checkSpf(input, { resolver })).explanation).toBe('unknown refuses 203.0.113.9');
  });

  it('checks IPv6 and IPv4-mapped addresses', async () => {
    expect((await checkSpf({ ip: '2001:db8::25', helo: 'x', sender: 'a@example.com' }, { resolver })).result).toBe(
      'pass',
    );
    const mapped = await checkSpf({ ip: '::ffff:192.0.2.1', helo: 'x', sender: 'a@example.com' }, { resolver });
    expect(mapped).toMatchObject({ result: 'pass', ip: '192.0.2.1' });
  });

  it('checks the HELO identity when the sender is empty', async () => {
    const result = await checkSpf({ ip: '198.51.100.7', helo: 'mail.example.org', sender: '' }, { resolver });
    expect(result).toMatchObject({ result: 'pass', identity: 'helo', sender: 'postmaster@mail.example.org' });
    const none = await checkSpf({ ip: '198.51.100.7', helo: 'mail.example.org', sender: null }, { resolver });
    expect(none.identity).toBe('helo');
  });

  it('gives none for a domain without a record, and for a malformed domain', async () => {
    expect((await checkSpf({ ip: '192.0.2.1', helo: 'x', sender: 'a@nowhere.example' }, { resolver })).result).toBe(
      'none',
    );
    expect((await checkSpf({ ip: '192.0.2.1', helo: 'x', sender: 'a@localhost' }, { resolver })).result).toBe('none');
  });

  it('gives temperror on a DNS timeout or server failure, never pass or fail', async () => {
    for (const sender of ['a@slow.example.com', 'a@broken.example.com', 'a@incslow.example.com']) {
      expect((await checkSpf({ ip: '192.0.2.1', helo: 'x', sender }, { resolver })).result, sender).toBe('temperror');
    }
  });

  it('gives permerror past the void-lookup and DNS-lookup limits', async () => {
    const voids = await checkSpf({ ip: '192.0.2.1', helo: 'x', sender: 'a@voids.example.com' }, { resolver });
    expect(voids).toMatchObject({ result: 'permerror', voidLookups: 3 });
    const deep = await checkSpf({ ip: '192.0.2.1', helo: 'x', sender: 'a@deep.example.com' }, { resolver });
    expect(deep).toMatchObject({ result: 'permerror', lookups: 11 });
    const raised = await checkSpf(
      { ip: '192.0.2.1', helo: 'x', sender: 'a@deep.example.com' },
      { resolver, limits: { lookups: 20 } },
    );
    expect(raised.result).toBe('fail');
  });

  it('rejects an input that is not an IP address with a BAD_INPUT error', async () => {
    const error = await checkSpf({ ip: 'not-an-ip', helo: 'x', sender: 'a@example.com' }, { resolver }).catch((e) => e);
    expect(isPolicyError(error, 'BAD_INPUT')).toBe(true);
    expect(error.message).toContain('not-an-ip');
  });

  it('logs one debug line per evaluation to the logger it is given', async () => {
    const lines: { fields: object; message?: string }[] = [];
    const logger = {
      debug: (fields: object, message?: string) => lines.push({ fields, message }),
      info: () => {},
      warn: () => {},
      error: () => {},
    };
    await checkSpf({ ip: '203.0.113.9', helo: 'x', sender: 'a@example.com' }, { resolver, logger });
    expect(lines).toEqual([
      {
        fields: expect.objectContaining({ check: 'spf', result: 'fail', mechanism: '-all' }),
        message: expect.any(String),
      },
    ]);
  });
});
