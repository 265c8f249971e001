import { describe, expect, it } from 'vitest';
import { DSN_ATTRIBUTE, dsnRequestOf } from '../../src/server/outbound/dsn-request';

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
