import type { Decision, DecisionEvent, MessageEndEvent } from '../core/server-events';
import type { SessionInfo, SmtpServerHooks } from './options';

/** What a missing hook answers. */
export const ACCEPT: Decision = { action: 'accept' };
/** What a hook that throws or rejects answers. */
export const HOOK_FAILED: Decision = { action: 'reject', code: 451, enhanced: '4.3.0', text: 'Temporary server error' };

const NO_AUTH: Decision = {
  action: 'reject',
  code: 535,
  enhanced: '5.7.8',
  text: 'Authentication credentials invalid',
};

const PHASES = {
  Connect: 'connect',
  Hello: 'helo',
  StartTls: 'connect',
  Authenticate: 'auth',
  MailFrom: 'mail',
  RcptTo: 'rcpt',
  MessageEnd: 'data',
} as const;

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown })?.then === 'function';
}

/** Calls the hook for a decision event other than MessageEnd (whose decision the data hook gives). */
export function callHook(
  hooks: SmtpServerHooks,
  info: SessionInfo,
  event: Exclude<DecisionEvent, MessageEndEvent>,
): Decision | Promise<Decision> {
  switch (event.type) {
    case 'Connect':
      return hooks.connect ? hooks.connect(info) : ACCEPT;
    case 'Hello':
      return hooks.helo ? hooks.helo(info, { verb: event.verb, domain: event.domain }) : ACCEPT;
    case 'StartTls':
      return ACCEPT;
    case 'Authenticate':
      return hooks.auth
        ? hooks.auth(info, {
            mechanism: event.mechanism,
            username: event.username,
            password: event.password,
            authorizationId: event.authorizationId,
          })
        : NO_AUTH;
    case 'MailFrom':
      return hooks.mail ? hooks.mail(info, event.from, event.params) : ACCEPT;
    case 'RcptTo':
      return hooks.rcpt ? hooks.rcpt(info, event.to, event.params) : ACCEPT;
  }
}

/** Records in `info` what an applied decision changed: tags, HELO, user, envelope. */
export function recordDecision(info: SessionInfo, event: DecisionEvent, decision: Decision): void {
  if (decision.action === 'tag')
    info.tags.push({ phase: PHASES[event.type], tag: decision.tag, reason: decision.reason });
  if (decision.action === 'reject') {
    if (event.type === 'MessageEnd') resetEnvelope(info);
    return;
  }
  switch (event.type) {
    case 'Hello':
      resetEnvelope(info);
      info.hello = { verb: event.verb, domain: event.domain };
      break;
    case 'Authenticate':
      info.user = event.username;
      break;
    case 'MailFrom':
      info.envelope.from = event.from;
      info.envelope.mailParams = event.params;
      break;
    case 'RcptTo':
      info.envelope.to.push({ mailbox: event.to, params: event.params });
      break;
    case 'MessageEnd':
      resetEnvelope(info);
      break;
  }
}

/** A new transaction: no envelope, and only the tags of the connection, HELO and AUTH. */
export function resetEnvelope(info: SessionInfo): void {
  const envelope = info.envelope;
  // An envelope that is still empty stays (no new object per HELO or message without one).
  if (envelope.from !== undefined || envelope.mailParams !== undefined || envelope.to.length > 0) {
    info.envelope = { from: undefined, mailParams: undefined, to: [] };
  }
  if (info.tags.length > 0) {
    info.tags = info.tags.filter((tag) => tag.phase === 'connect' || tag.phase === 'helo' || tag.phase === 'auth');
  }
}

/** RFC 3207 4.2: after the TLS handshake the session forgets HELO, AUTH and the transaction. */
export function resetAfterTls(info: SessionInfo): void {
  info.secure = true;
  info.hello = undefined;
  info.user = undefined;
  info.tags = info.tags.filter((tag) => tag.phase === 'connect');
  resetEnvelope(info);
}
