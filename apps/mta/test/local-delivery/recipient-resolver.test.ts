import { describe, expect, it } from 'vitest';
import {
  createRecipientResolver,
  createReloadableRecipientResolver,
  type RecipientResolverOptions,
} from '../../src/server/local-delivery/recipient-resolver';

const base: RecipientResolverOptions = {
  domains: ['example.org', 'Example.NET.'],
  users: ['alice@example.org', 'Bob@Example.org', 'carol@example.net'],
  aliases: {},
  postmaster: [],
};
const resolver = (options: Partial<RecipientResolverOptions> = {}) => createRecipientResolver({ ...base, ...options });
const mailboxes = (options: Partial<RecipientResolverOptions>, address: string) => {
  const result = resolver(options).resolve(address);
  return result.kind === 'local' ? result.mailboxes : result.kind;
};

describe('recipient resolution', () => {
  it('delivers a user to their own mailbox in canonical lower case', () => {
    expect(resolver().resolve('alice@example.org')).toEqual({
      kind: 'local',
      mailboxes: ['alice@example.org'],
      forwards: [],
    });
    expect(mailboxes({}, 'bob@example.org')).toEqual(['bob@example.org']);
  });

  it('compares domains case-insensitively and ignores a trailing dot', () => {
    expect(mailboxes({}, 'alice@EXAMPLE.ORG')).toEqual(['alice@example.org']);
    expect(mailboxes({}, 'alice@example.org.')).toEqual(['alice@example.org']);
    expect(mailboxes({}, 'carol@example.net')).toEqual(['carol@example.net']);
  });

  it('compares local parts case-insensitively, as Postfix does', () => {
    expect(mailboxes({}, 'ALICE@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({}, 'BoB@example.org')).toEqual(['bob@example.org']);
  });

  it('compares a quoted local part as its content', () => {
    expect(mailboxes({}, '"alice"@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({}, '"al\\ice"@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({}, '"alice@example.org"@example.org')).toBe('unknown');
  });

  it('says unknown for a user of our domain that does not exist', () => {
    expect(resolver().resolve('dave@example.org')).toEqual({ kind: 'unknown' });
    expect(resolver().resolve('alice@example.net')).toEqual({ kind: 'unknown' });
  });

  it('says not-ours for other domains, look-alikes and address literals', () => {
    for (const address of [
      'alice@example.com',
      'alice@mail.example.org',
      'alice@example.org.evil.test',
      'alice@notexample.org',
      'alice@[127.0.0.1]',
      'alice',
      '"unterminated@example.org',
    ]) {
      expect(resolver().resolve(address), address).toEqual({ kind: 'not-ours' });
    }
  });

  it('delivers user+tag to the user, unless user+tag is itself a user or an alias', () => {
    expect(mailboxes({}, 'alice+lists@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({}, 'Alice+Lists+More@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({}, 'dave+x@example.org')).toBe('unknown');
    expect(mailboxes({ users: [...base.users, 'alice+work@example.org'] }, 'alice+work@example.org')).toEqual([
      'alice+work@example.org',
    ]);
    expect(mailboxes({ aliases: { 'alice+shop@example.org': ['bob@example.org'] } }, 'alice+shop@example.org')).toEqual(
      ['bob@example.org'],
    );
    expect(mailboxes({ aliases: { 'sales@example.org': ['bob@example.org'] } }, 'sales+eu@example.org')).toEqual([
      'bob@example.org',
    ]);
  });

  it('accepts postmaster of every domain, and the bare postmaster, for the configured postmaster', () => {
    const options = { postmaster: ['bob@example.org'] };
    for (const address of ['postmaster@example.org', 'PostMaster@example.net', 'postmaster', 'Postmaster']) {
      expect(mailboxes(options, address), address).toEqual(['bob@example.org']);
    }
  });

  it('gives postmaster to the first user when the config names none', () => {
    expect(mailboxes({}, 'postmaster@example.net')).toEqual(['alice@example.org']);
    expect(mailboxes({}, 'postmaster')).toEqual(['alice@example.org']);
  });

  it('lets a real postmaster user or alias take postmaster mail', () => {
    expect(
      mailboxes({ aliases: { 'postmaster@example.net': ['carol@example.net'] } }, 'postmaster@example.net'),
    ).toEqual(['carol@example.net']);
  });

  it('expands aliases recursively and de-duplicates', () => {
    const aliases = {
      'team@example.org': ['alice@example.org', 'devs@example.org', 'Bob@example.org'],
      'devs@example.org': ['bob@example.org', 'carol@example.net'],
    };
    expect(mailboxes({ aliases }, 'team@example.org')).toEqual([
      'alice@example.org',
      'bob@example.org',
      'carol@example.net',
    ]);
  });

  it('stops alias loops, and a loop that reaches nobody is unknown', () => {
    const aliases = {
      'a@example.org': ['b@example.org'],
      'b@example.org': ['a@example.org', 'alice@example.org'],
      'x@example.org': ['y@example.org'],
      'y@example.org': ['x@example.org'],
      '@example.net': ['x@example.org'],
    };
    expect(mailboxes({ aliases }, 'a@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({ aliases }, 'x@example.org')).toBe('unknown');
    expect(mailboxes({ aliases }, 'anything@example.net')).toBe('unknown');
  });

  it('lets an alias name itself to keep a copy in the user mailbox', () => {
    const aliases = { 'bob@example.org': ['bob@example.org', 'alice@example.org'] };
    expect(mailboxes({ aliases }, 'bob@example.org')).toEqual(['bob@example.org', 'alice@example.org']);
  });

  it('applies a catch-all only when no user or alias matches', () => {
    const aliases = { '@example.org': ['carol@example.net'], 'sales@example.org': ['bob@example.org'] };
    expect(mailboxes({ aliases }, 'nobody@example.org')).toEqual(['carol@example.net']);
    expect(mailboxes({ aliases }, 'alice@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({ aliases }, 'sales@example.org')).toEqual(['bob@example.org']);
    expect(mailboxes({ aliases }, 'alice+tag@example.org')).toEqual(['alice@example.org']);
    expect(mailboxes({ aliases }, 'nobody@example.net')).toBe('unknown');
  });

  it('lists alias targets outside our domains as forwards, never as mailboxes', () => {
    const aliases = { 'fwd@example.org': ['someone@elsewhere.test', 'alice@example.org'] };
    expect(resolver({ aliases }).resolve('fwd@example.org')).toEqual({
      kind: 'local',
      mailboxes: ['alice@example.org'],
      forwards: ['someone@elsewhere.test'],
    });
  });

  it('normalises IDN domains to A-labels', () => {
    const idn = createRecipientResolver({
      ...base,
      domains: ['xn--bcher-kva.example'],
      users: ['anna@bücher.example'],
    });
    expect(idn.resolve('anna@BÜCHER.example')).toEqual({
      kind: 'local',
      mailboxes: ['anna@xn--bcher-kva.example'],
      forwards: [],
    });
  });

  it('rebuilds its tables on reload, keeping the old ones until the new are built', () => {
    const config = { domains: ['example.org'], aliases: {}, postmaster: [] };
    const reloadable = createReloadableRecipientResolver(config, ['alice@example.org']);
    expect(reloadable.resolve('dave@example.org').kind).toBe('unknown');
    reloadable.reload(config, ['alice@example.org', 'dave@example.org']);
    expect(reloadable.resolve('dave@example.org')).toEqual({
      kind: 'local',
      mailboxes: ['dave@example.org'],
      forwards: [],
    });
  });

  it('resolves subaddresses of many users, and says unknown past the last one', () => {
    const users = Array.from({ length: 10_000 }, (_, i) => `user${i}@example.org`);
    const big = createRecipientResolver({ ...base, users });
    for (let i = 9_990; i < 10_010; i += 1) {
      expect(big.resolve(`User${i}+x@Example.org`).kind).toBe(i < 10_000 ? 'local' : 'unknown');
    }
  });
});
