import { describe, expect, it } from 'vitest';
import { headerFields, lintHeader } from '../../src/server/reflector/header-lint';

const statuses = (head: string) => Object.fromEntries(lintHeader(head).map((f) => [f.name, f.status]));

describe('the reflector header lint (RFC 5322 3.6)', () => {
  it('passes one From, a Message-ID, a Date and no repeated single fields', () => {
    const head =
      'From: Alice <alice@example.org>\r\nTo: b@example.net\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nSubject: hi\r\n\r\nbody\r\nFrom: in the body\r\n';
    expect(statuses(head)).toEqual({ from: 'pass', 'message-id': 'pass', date: 'pass', duplicates: 'pass' });
  });

  it('fails two From fields, a missing Message-ID and Date, and names each repeated field', () => {
    const findings = lintHeader('From: a@example.org\r\nFrom: b@example.org\r\nTo: x@y.z\r\nTo: w@y.z\r\n\r\n');
    expect(Object.fromEntries(findings.map((f) => [f.name, f.status]))).toEqual({
      from: 'fail',
      'message-id': 'fail',
      date: 'fail',
      duplicates: 'fail',
    });
    expect(findings.find((f) => f.name === 'duplicates')?.message).toBe(
      'more than one from, to (RFC 5322 3.6 allows one each)',
    );
  });

  it('fails a Message-ID that is not <left@right> and a Date that does not parse; warns on a From of two addresses', () => {
    expect(statuses('From: a@example.org, b@example.org\r\nMessage-ID: 12345\r\nDate: yesterday\r\n\r\n')).toEqual({
      from: 'warn',
      'message-id': 'fail',
      date: 'fail',
      duplicates: 'pass',
    });
  });

  it('unfolds continued lines and ignores case in field names', () => {
    expect(headerFields('SUBJECT: one\r\n  two\r\nfrom: a@b.c\r\n\r\n')).toEqual([
      { name: 'subject', value: 'one two' },
      { name: 'from', value: 'a@b.c' },
    ]);
  });
});
