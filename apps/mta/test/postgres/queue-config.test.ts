import { describe, expect, it } from 'vitest';
import { parseQueue } from '../../src/config/queue-config';

describe('the queue key', () => {
  it('is the file spool when absent or file', () => {
    expect(parseQueue(undefined)).toEqual({ ok: true, value: undefined });
    expect(parseQueue('file')).toEqual({ ok: true, value: undefined });
  });

  it('takes a postgres:// connection string, alone or with a lease', () => {
    expect(parseQueue(' postgres://homing@db.example.org/mail ')).toEqual({
      ok: true,
      value: { url: 'postgres://homing@db.example.org/mail' },
    });
    expect(parseQueue({ url: 'postgresql://h@127.0.0.1:5432/q', lease: '2m' })).toEqual({
      ok: true,
      value: { url: 'postgresql://h@127.0.0.1:5432/q', leaseMs: 120_000 },
    });
  });

  it('refuses anything else with what to write instead', () => {
    const wrong = parseQueue('mysql://x@y/z');
    expect(wrong).toMatchObject({ ok: false });
    expect(wrong.ok === false && wrong.message).toContain('postgres://user@host/database');
    expect(parseQueue({ url: 'postgres://a@b/c', leese: '2m' })).toMatchObject({ ok: false });
    expect(parseQueue({ url: 'postgres://a@b/c', lease: 'soon' })).toMatchObject({ ok: false });
  });
});
