import type { RcptParameters } from '@homing/smtp';
import type { SessionInfo } from '@homing/smtp/server';
import { describe, expect, it } from 'vitest';
import { createRecipientResolver } from '../../src/server/local-delivery/recipient-resolver';
import { DSN_ATTRIBUTE, dsnAttribute, dsnRequestOf, expansionsOf } from '../../src/server/outbound/dsn-request';

// The queue attribute written at acceptance, read back for the outbound worker (reports and the
// parameters passed on to the next hop, RFC 3461 5.2).
describe('dsnRequestOf', () => {
  it('gives RET, ENVID, NOTIFY and ORCPT back', () => {
    const attribute = JSON.stringify({
      ret: 'FULL',
      envid: 'e-1',
      rcpt: { 'bob@example.net': { notify: ['SUCCESS'], orcpt: 'Bob@example.net' } },
    });
    expect(dsnRequestOf({ [DSN_ATTRIBUTE]: attribute })).toEqual({
      ret: 'FULL',
      envelopeId: 'e-1',
      recipients: { 'bob@example.net': { notify: ['SUCCESS'], originalRecipient: 'Bob@example.net' } },
    });
  });

  it('gives nothing without the attribute or with a damaged one', () => {
    expect(dsnRequestOf({})).toBeUndefined();
    expect(dsnRequestOf({ [DSN_ATTRIBUTE]: '{not json' })).toBeUndefined();
  });
});

// What acceptance writes: the requests keyed by the addresses the RCPT is queued as, with the
// ORCPT's address type kept (RFC 3461 4.2), and SUCCESS taken off the targets of an alias that
// expands (RFC 3461 6.2.1 d).
describe('dsnAttribute', () => {
  const resolver = createRecipientResolver({
    domains: ['example.org'],
    users: ['bob@example.org', 'carol@example.org'],
    aliases: { 'team@example.org': ['bob@example.org', 'carol@example.org'], 'b@example.org': ['bob@example.org'] },
    postmaster: [],
  });
  const session = (to: { address: string; params: RcptParameters }[], mailParams?: object) =>
    ({
      envelope: { mailParams, to: to.map(({ address, params }) => ({ mailbox: { address }, params })) },
    }) as unknown as SessionInfo;
  const roundTrip = (info: SessionInfo) => {
    const value = dsnAttribute(info, (address) => resolver.resolve(address));
    return value === undefined ? undefined : dsnRequestOf({ [DSN_ATTRIBUTE]: value });
  };

  it('keeps the ORCPT type, and keys the requests by the mailbox a user or a one-target alias is queued as', () => {
    const request = roundTrip(
      session([
        {
          address: 'Bob+Tag@Example.org',
          params: { notify: ['SUCCESS'], orcpt: { type: 'utf-8', address: 'böb@example.org' } },
        },
        { address: 'dan@example.net', params: { orcpt: { type: 'rfc822', address: 'Dan@example.net' } } },
      ]),
    );
    expect(request?.recipients).toEqual({
      'bob@example.org': { notify: ['SUCCESS'], originalRecipient: 'böb@example.org', originalRecipientType: 'utf-8' },
      'dan@example.net': { originalRecipient: 'Dan@example.net' },
    });
    expect(roundTrip(session([{ address: 'b@example.org', params: { notify: ['SUCCESS'] } }]))?.recipients).toEqual({
      'bob@example.org': { notify: ['SUCCESS'] },
    });
  });

  it('takes SUCCESS off the targets of an alias that expands, NEVER when nothing is left', () => {
    const orcpt = { type: 'rfc822', address: 'team@example.org' };
    expect(
      roundTrip(session([{ address: 'team@example.org', params: { notify: ['SUCCESS', 'FAILURE'], orcpt } }]))
        ?.recipients,
    ).toEqual({
      'bob@example.org': { notify: ['FAILURE'], originalRecipient: 'team@example.org' },
      'carol@example.org': { notify: ['FAILURE'], originalRecipient: 'team@example.org' },
    });
    expect(roundTrip(session([{ address: 'team@example.org', params: { notify: ['SUCCESS'] } }]))?.recipients).toEqual({
      'bob@example.org': { notify: ['NEVER'] },
      'carol@example.org': { notify: ['NEVER'] },
    });
  });

  it('records the expansion the sender asked to hear of, with the target whose first settle reports it', () => {
    const value = dsnAttribute(
      session([
        {
          address: 'Team@example.org',
          params: { notify: ['SUCCESS'], orcpt: { type: 'utf-8', address: 'téam@example.org' } },
        },
        { address: 'team@example.org', params: { notify: ['FAILURE'] } },
      ]),
      (address) => resolver.resolve(address),
    );
    expect(expansionsOf({ [DSN_ATTRIBUTE]: value! })).toEqual([
      {
        address: 'Team@example.org',
        first: 'bob@example.org',
        originalRecipient: 'téam@example.org',
        originalRecipientType: 'utf-8',
      },
    ]);
    expect(expansionsOf({})).toEqual([]);
  });

  it('writes nothing for a transaction without DSN parameters', () => {
    expect(dsnAttribute(session([{ address: 'bob@example.org', params: {} }]))).toBeUndefined();
  });
});
