import { type Reply, SmtpClientError, type SmtpClientErrorCode } from '@homing/smtp/client';
import { describe, expect, it } from 'vitest';
import { classifyFailure, classifyReply, DeliveryError, enhancedStatusOf, formatReplyLine } from '../src/index';

describe('classifyReply', () => {
  it('reads the first digit of the code (RFC 5321 4.2.1)', () => {
    expect(classifyReply({ code: 250 })).toBe('success');
    expect(classifyReply({ code: 354 })).toBe('intermediate');
    expect(classifyReply({ code: 421 })).toBe('transient');
    expect(classifyReply({ code: 452 })).toBe('transient');
    expect(classifyReply({ code: 550 })).toBe('permanent');
    expect(classifyReply({ code: 554 })).toBe('permanent');
  });

  it('treats codes outside 200-599 as a broken peer, so transient', () => {
    expect(classifyReply({ code: 199 })).toBe('transient');
    expect(classifyReply({ code: 600 })).toBe('transient');
    expect(classifyReply({ code: 25.5 })).toBe('transient');
  });
});

describe('enhancedStatusOf', () => {
  it('keeps an enhanced code that agrees with the reply code, else falls back to X.0.0 (RFC 3463 2)', () => {
    expect(enhancedStatusOf({ code: 550, enhanced: '5.1.1', lines: [] })).toBe('5.1.1');
    expect(enhancedStatusOf({ code: 450, enhanced: '5.1.1', lines: [] })).toBe('4.0.0');
    expect(enhancedStatusOf({ code: 550, lines: [] })).toBe('5.0.0');
    expect(enhancedStatusOf({ code: 451, enhanced: 'garbage', lines: [] })).toBe('4.0.0');
  });
});

describe('formatReplyLine', () => {
  it('joins multi-line text on one line and strips CR and LF', () => {
    expect(formatReplyLine({ code: 550, enhanced: '5.7.1', lines: ['Relaying', 'denied\r\nX: y'] })).toBe(
      '550 5.7.1 Relaying denied X: y',
    );
  });
});

describe('classifyFailure', () => {
  const clientError = (code: SmtpClientErrorCode, transient: boolean, reply?: Reply) =>
    new SmtpClientError(code, `client ${code}`, { transient, ...(reply === undefined ? {} : { reply }) });

  it('defers transient client failures and bounces permanent ones, keeping the reply', () => {
    const deferred = classifyFailure(clientError('CONNECT_FAILED', true));
    expect(deferred).toMatchObject({ status: 'deferred', enhanced: '4.4.1' });
    const failed = classifyFailure(clientError('PROTOCOL', false, { code: 550, enhanced: '5.1.1', lines: ['no'] }));
    expect(failed).toMatchObject({ status: 'failed', enhanced: '5.1.1', reply: { code: 550 } });
    expect(failed.reason).toContain('550 5.1.1 no');
  });

  it('defers timeouts, disconnects and TLS failures with their own status codes', () => {
    expect(classifyFailure(clientError('TIMEOUT', true))).toMatchObject({ status: 'deferred', enhanced: '4.4.2' });
    expect(classifyFailure(clientError('CONNECTION_CLOSED', true))).toMatchObject({ enhanced: '4.4.2' });
    expect(classifyFailure(clientError('TLS_FAILED', true))).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
  });

  it('defers smarthost authentication failures: the operator must fix them, not the sender', () => {
    const result = classifyFailure(clientError('AUTH_FAILED', false, { code: 535, enhanced: '5.7.8', lines: ['bad'] }));
    expect(result).toMatchObject({ status: 'deferred', enhanced: '4.7.0' });
  });

  it('bounces a message too big for the server (RFC 1870) with 5.3.4', () => {
    expect(classifyFailure(clientError('MESSAGE_TOO_BIG', false))).toMatchObject({
      status: 'failed',
      enhanced: '5.3.4',
    });
  });

  it('maps DeliveryErrors by their code', () => {
    expect(classifyFailure(new DeliveryError('NULL_MX', 'no mail'))).toMatchObject({
      status: 'failed',
      enhanced: '5.1.10',
    });
    expect(classifyFailure(new DeliveryError('DNS_TEMPORARY', 'servfail'))).toMatchObject({ status: 'deferred' });
  });

  it('defers socket errors and anything unknown', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyFailure(refused)).toMatchObject({ status: 'deferred', enhanced: '4.4.1' });
    expect(classifyFailure('weird')).toMatchObject({ status: 'deferred', reason: 'weird' });
  });
});

describe('classifyFailure on a timeout that carries the last positive reply', () => {
  it('keeps the timeout status and does not report the 2xx reply as the reason', () => {
    const error = new SmtpClientError('TIMEOUT', 'no reply within 300 ms', {
      transient: true,
      reply: { code: 220, lines: ['ready'] },
    });
    const result = classifyFailure(error);
    expect(result).toEqual({ status: 'deferred', enhanced: '4.4.2', reason: 'no reply within 300 ms' });
  });
});
