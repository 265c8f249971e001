import { startDnsServer } from '@homing/dns/testing';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addDnsOption, dnsServersFromOptions, resolverFromOptions } from '../src/dns-option';

describe('the shared --dns option', () => {
  it('adds --dns to a command and parses HOST:PORT', () => {
    const command = addDnsOption(new Command('x')).exitOverride();
    command.parse(['--dns', '127.0.0.1:5353'], { from: 'user' });
    expect(command.opts()).toEqual({ dns: '127.0.0.1:5353' });
    expect(command.helpInformation()).toMatch(/--dns <host:port>/);
  });

  it('prefers --dns over HOMING_DNS, and falls back to the system when neither is set', () => {
    expect(dnsServersFromOptions({ dns: '127.0.0.1:1' }, { HOMING_DNS: '127.0.0.2:2' })).toEqual(['127.0.0.1:1']);
    expect(dnsServersFromOptions({}, { HOMING_DNS: '127.0.0.2:2,[::1]:53' })).toEqual(['127.0.0.2:2', '[::1]:53']);
    expect(dnsServersFromOptions({}, {})).toBeUndefined();
  });

  it('rejects a value that is not HOST:PORT with a message that says what to give', () => {
    expect(() => resolverFromOptions({ dns: 'dns.example.com:53' }, {})).toThrow(
      /--dns "dns.example.com:53" is not HOST:PORT/,
    );
    expect(() => resolverFromOptions({}, { HOMING_DNS: '127.0.0.1:99999' })).toThrow(/HOMING_DNS/);
  });

  it('gives a resolver that asks the named server', async () => {
    const server = await startDnsServer({ zones: { 'example.com': { A: ['127.0.0.9'] } } });
    try {
      const fromFlag = resolverFromOptions({ dns: server.address }, {});
      expect((await fromFlag.resolveA('example.com')).records).toEqual(['127.0.0.9']);
      const fromEnv = resolverFromOptions({}, { HOMING_DNS: server.address });
      expect((await fromEnv.resolveA('example.com')).records).toEqual(['127.0.0.9']);
      expect(server.queries.length).toBe(2);
    } finally {
      await server.close();
    }
  }, 15_000);
});
