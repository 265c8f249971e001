// RFC 7208 4.6.4 void lookups: every query a term makes that finds no record (NXDOMAIN or an empty answer)
// counts toward the limit of 2, as pyspf (the suite's reference implementation) counts them: the PTR query
// of ptr and %{p}, the address queries of PTR names and of MX hosts, the TXT query of include targets.
// spf-void-pyspf.test.ts runs the same cases against pyspf 2.0.14 (python3-spf) over the loopback DNS server.
import { describe, expect, it } from 'vitest';
import { checkSpf } from '../src/index';
import { createMemoryResolver } from './helpers/memory-resolver';
import { voidLookupZones } from './helpers/void-lookup-zones';

const zones = voidLookupZones;

const check = (domain: string, ip = '192.0.2.1') =>
  checkSpf({ ip, helo: 'helo.example.com', sender: `someone@${domain}` }, { resolver: createMemoryResolver(zones) });

describe('SPF void lookups (RFC 7208 4.6.4), counted as pyspf counts them', () => {
  it('counts each MX host without an address, and gives permerror at the third', async () => {
    expect(await check('mx3.example.com')).toMatchObject({ result: 'permerror', voidLookups: 3 });
    expect((await check('mx3.example.com')).reason).toContain('more than 2 void lookups (at A m3.gone.example.com)');
  });

  it('passes with two MX hosts without an address, and reports both', async () => {
    expect(await check('mx2.example.com')).toMatchObject({ result: 'pass', mechanism: '+all', voidLookups: 2 });
  });

  it('counts the PTR query of ptr when the client has no PTR record', async () => {
    const result = await check('ptr.example.com');
    expect(result).toMatchObject({ result: 'permerror', voidLookups: 3 });
    expect(result.reason).toContain('at A a2.gone.example.com');
  });

  it('counts the address query of each PTR name that has no address of the client family', async () => {
    const result = await check('ptrnames.example.com', '192.0.2.2');
    expect(result).toMatchObject({ result: 'permerror', voidLookups: 3 });
    expect(result.reason).toContain('at A n3.gone.example.com');
  });

  it('counts the void lookups of ptr again at each ptr term, as pyspf asks again', async () => {
    expect(await check('ptrtwice.example.com')).toMatchObject({ result: 'permerror', voidLookups: 3 });
  });

  it('counts the PTR query of %{p}', async () => {
    const result = await check('pmacro.example.com');
    expect(result).toMatchObject({ result: 'permerror', voidLookups: 3 });
    expect(result.reason).toContain('at A a2.gone.example.com');
  });

  it('counts the PTR query of %{p} once per evaluation, however many terms use it', async () => {
    expect(await check('pmacro2.example.com')).toMatchObject({ result: 'pass', mechanism: '+all', voidLookups: 2 });
  });

  it('counts the TXT query of an include target that does not exist', async () => {
    expect(await check('include.example.com')).toMatchObject({ result: 'permerror', voidLookups: 1 });
  });

  it('counts the TXT query of the checked identity too, and no query that found records', async () => {
    expect(await check('nothing.gone.example.com')).toMatchObject({ result: 'none', voidLookups: 1 });
    expect(await check('mx2.example.com', '198.51.100.7')).toMatchObject({ result: 'pass', voidLookups: 2 });
  });

  it('keeps the limit an option', async () => {
    const result = await checkSpf(
      { ip: '192.0.2.1', helo: 'h.example.com', sender: 'a@mx3.example.com' },
      { resolver: createMemoryResolver(zones), limits: { voidLookups: 3 } },
    );
    expect(result).toMatchObject({ result: 'pass', voidLookups: 3 });
  });
});
