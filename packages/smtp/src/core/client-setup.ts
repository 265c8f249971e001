import { type AuthStep, authFirstStep, authNextStep, chooseAuthMechanism } from './client-auth';
import { SmtpClientError } from './client-error';
import type { ClientSessionOptions } from './client-events';
import type { ClientTrigger } from './client-states';
import { isPositive } from './client-transaction';
import { noExtensions, parseEhloReply, type ServerExtensions } from './ehlo-extensions';
import type { Reply } from './reply';

/** A reply of the session's set-up (greeting, EHLO/HELO, STARTTLS, AUTH), with what it answers. */
export type SetupExpected = { kind: 'greeting' | 'ehlo' | 'helo' | 'starttls' } | { kind: 'auth'; step: AuthStep };

/** What the set-up knows besides the reply. */
export interface SetupContext {
  options: ClientSessionOptions;
  tlsActive: boolean;
  authenticated: boolean;
  extensions: ServerExtensions | undefined;
}

/** What the session does after one set-up reply; `extensions` when the reply taught them. */
export type SetupStep = { extensions?: ServerExtensions } & (
  | { kind: 'send'; trigger: ClientTrigger; line: string; logText?: string; expected: SetupExpected }
  /** 220 to STARTTLS: the adapter runs the handshake. */
  | { kind: 'tls' }
  /** Ready for a message. */
  | { kind: 'ready'; authenticated: boolean }
  /** The server refused a step: say QUIT (unless it said 421) and fail with `code`. */
  | { kind: 'refused'; code: 'GREETING_REJECTED' | 'HELO_REJECTED' | 'AUTH_FAILED' | 'TLS_FAILED'; what: string }
  /** We cannot go on: fail, after a QUIT when the server is still listening. */
  | { kind: 'fail'; error: SmtpClientError; quit: boolean }
);

/** The step after `reply`, the answer to `expected` (RFC 5321 3.1, 4.1.4; RFC 3207; RFC 4954). */
export function setupStep(expected: SetupExpected, reply: Reply, context: SetupContext): SetupStep {
  const { options } = context;
  switch (expected.kind) {
    case 'greeting':
      if (reply.code !== 220) return { kind: 'refused', code: 'GREETING_REJECTED', what: 'greeting refused' };
      return { kind: 'send', trigger: 'Greeted', line: `EHLO ${options.hostname}`, expected: { kind: 'ehlo' } };
    case 'ehlo':
      if (isPositive(reply)) return afterHello(parseEhloReply(reply), context);
      // RFC 5321 4.1.4: a server that does not know EHLO answers 5xx; fall back to HELO.
      if (reply.code < 500) return { kind: 'refused', code: 'HELO_REJECTED', what: 'EHLO refused' };
      return { kind: 'send', trigger: 'HeloFallback', line: `HELO ${options.hostname}`, expected: { kind: 'helo' } };
    case 'helo':
      if (isPositive(reply)) return afterHello(noExtensions(reply.lines[0] ?? ''), context);
      return { kind: 'refused', code: 'HELO_REJECTED', what: 'EHLO and HELO refused' };
    case 'starttls':
      if (reply.code === 220) return { kind: 'tls' };
      if (options.tls === 'required') return { kind: 'refused', code: 'TLS_FAILED', what: 'STARTTLS refused' };
      // RFC 3207 4.1: opportunistic TLS may go on in the clear when STARTTLS is refused.
      return afterTls(context);
    case 'auth': {
      const next = authNextStep(expected.step, reply, options.auth!);
      if (next === 'done') return { kind: 'ready', authenticated: true };
      if (next === 'failed') return { kind: 'refused', code: 'AUTH_FAILED', what: 'authentication failed' };
      const { line, logText, step } = next;
      return { kind: 'send', trigger: 'Authenticate', line, logText, expected: { kind: 'auth', step } };
    }
  }
}

function afterHello(extensions: ServerExtensions, context: SetupContext): SetupStep {
  const mode = context.options.tls ?? 'opportunistic';
  if (!context.tlsActive && (mode === 'opportunistic' || mode === 'required')) {
    if (extensions.startTls) {
      return { extensions, kind: 'send', trigger: 'StartTls', line: 'STARTTLS', expected: { kind: 'starttls' } };
    }
    if (mode === 'required') {
      const error = new SmtpClientError('TLS_UNAVAILABLE', 'TLS is required and the server does not offer STARTTLS');
      return { extensions, kind: 'fail', error, quit: true };
    }
  }
  return { extensions, ...afterTls({ ...context, extensions }) };
}

function afterTls(context: SetupContext): SetupStep {
  const auth = context.options.auth;
  if (!auth || context.authenticated) return { kind: 'ready', authenticated: context.authenticated };
  if (!context.tlsActive && !auth.allowInsecure) {
    const error = new SmtpClientError(
      'AUTH_UNAVAILABLE',
      'refusing to send credentials without TLS (set auth.allowInsecure to allow)',
    );
    return { kind: 'fail', error, quit: false };
  }
  const offered = context.extensions!.auth;
  const mechanism = chooseAuthMechanism(offered, auth.method);
  if (!mechanism) {
    const error = new SmtpClientError(
      'AUTH_UNAVAILABLE',
      `no usable AUTH mechanism (server offers: ${offered.join(' ') || 'none'})`,
    );
    return { kind: 'fail', error, quit: false };
  }
  const { line, logText, step } = authFirstStep(mechanism, auth);
  return { kind: 'send', trigger: 'Authenticate', line, logText, expected: { kind: 'auth', step } };
}
