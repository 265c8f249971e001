import type { SignatureOptions } from '@homing/dkim';
import type { Decision, SessionInfo, SmtpServerHooks } from '@homing/smtp/server';
import type { InboundContext } from '../inbound/mx-hooks';
import { inboundSession } from '../inbound/mx-hooks';
import type { ListenerName } from '../observability/observability-types';
import type { AuthThrottle } from './auth-throttle';
import { SendRateLimiter, type SendRateReservation } from './send-rate';
import { acceptSubmission } from './submission-acceptance';

/** What the submission hooks need beyond the MX's context. */
export interface SubmissionContext extends InboundContext {
  /** True when the password is the user's (the users file, re-read on SIGHUP). */
  verifyUser(user: string, password: string): Promise<boolean>;
  /** The addresses a user may send as: their own and the aliases that point only to them. */
  ownedAddresses(user: string): ReadonlySet<string>;
  throttle: AuthThrottle;
  /** True when mail to other domains can be sent (an outbound worker runs). */
  outbound: boolean;
  /** The DKIM signatures for mail from one of our domains (issue 14 item 3); none: unsigned. */
  dkimSignatures?: (domain: string) => SignatureOptions[] | undefined;
  /** Counts each user's accepted messages for `limits.send_rate` (tests give one with a clock). */
  sendRate?: SendRateLimiter;
}

// Both submission listeners share one context, so one count per user across 587 and 465.
const limiters = new WeakMap<SubmissionContext, SendRateLimiter>();

function limiterOf(context: SubmissionContext): SendRateLimiter {
  if (context.sendRate !== undefined) return context.sendRate;
  let limiter = limiters.get(context);
  if (limiter === undefined) {
    limiter = new SendRateLimiter();
    limiters.set(context, limiter);
  }
  return limiter;
}

// The place each session's current transaction holds under `limits.send_rate`, from its MAIL to
// the end of its data (or the end of the session).
const reservations = new WeakMap<SessionInfo, SendRateReservation>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The hooks of the submission listeners (587 with STARTTLS, 465 with implicit TLS): AUTH is
 * required (the core offers it only under TLS), the sender must be one of the user's addresses,
 * and authenticated users may send to any domain.
 */
export function createSubmissionHooks(context: SubmissionContext, listener: ListenerName): SmtpServerHooks {
  return {
    connect(session) {
      inboundSession(session).listener = listener;
      context.metrics.connectionOpened(listener);
      session.signal.addEventListener('abort', () => context.metrics.connectionClosed(listener), { once: true });
      context.log.event(session.id, 'smtp', 'connected', { address: session.remoteAddress, listener });
      return { action: 'accept' };
    },

    async auth(session, credentials) {
      const user = credentials.username.trim().toLowerCase();
      const address = session.remoteAddress;
      const advice = context.throttle.before(address, user);
      if (advice.refuse) {
        context.log.event(session.id, 'smtp', 'auth-refused', {
          address,
          user,
          mechanism: credentials.mechanism,
          retry: Math.ceil(advice.retryAfterMs / 1000),
        });
        context.metrics.messageRejected('auth-throttled');
        return {
          action: 'reject',
          code: 454,
          enhanced: '4.7.0',
          text: 'Too many failed authentications; try again later',
        };
      }
      if (advice.delayMs > 0) await sleep(advice.delayMs);
      const ok =
        credentials.authorizationId === undefined || credentials.authorizationId.toLowerCase() === user
          ? await context.verifyUser(user, credentials.password)
          : false;
      if (ok) {
        context.throttle.succeeded(address);
        context.log.event(session.id, 'smtp', 'authenticated', { address, user, mechanism: credentials.mechanism });
        return { action: 'accept', code: 235, enhanced: '2.7.0', text: 'Authentication successful' };
      }
      const blocked = context.throttle.failed(address, user);
      context.log.event(session.id, 'smtp', 'auth-failed', { address, user, mechanism: credentials.mechanism });
      context.metrics.messageRejected('auth');
      if (blocked) {
        return {
          action: 'reject',
          code: 454,
          enhanced: '4.7.0',
          text: 'Too many failed authentications; try again later',
        };
      }
      return { action: 'reject', code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' };
    },

    mail(session, from) {
      const decision = checkSender(context, session, from?.address ?? '');
      return decision.action === 'accept' ? checkSendRate(context, session) : decision;
    },

    rcpt(_session, to) {
      const resolution = context.resolveRecipient(to.address);
      if (resolution.kind === 'unknown') {
        context.metrics.messageRejected('unknown-user');
        return { action: 'reject', code: 550, enhanced: '5.1.1', text: `<${to.address}>: no such user here` };
      }
      if (resolution.kind === 'not-ours' && !context.outbound) {
        context.metrics.messageRejected('relay');
        return {
          action: 'reject',
          code: 550,
          enhanced: '5.7.1',
          text: 'This server does not send to other domains yet (no outbound delivery configured)',
        };
      }
      return { action: 'accept' };
    },

    async data(session, message) {
      const reservation = reservations.get(session);
      reservations.delete(session);
      let decision: Decision;
      try {
        decision = await acceptSubmission(context, session, message);
      } catch (error) {
        reservation?.release();
        throw error;
      }
      // Kept before the 250 goes out; a refused message gives its place back.
      if (decision.action === 'reject') reservation?.release();
      else reservation?.commit();
      return decision;
    },
  };
}

/**
 * MAIL FROM on submission: takes a place under the user's `limits.send_rate`, or 450 4.7.1 until
 * the oldest counted message ages out. A session keeps one place for its transaction: a MAIL
 * after RSET (or after a refused one) uses the place it already holds, and the end of the session
 * gives it back.
 */
function checkSendRate(context: SubmissionContext, session: SessionInfo): Decision {
  const rate = context.config().limits.sendRate;
  const user = session.user;
  if (rate === undefined || user === undefined) return { action: 'accept' };
  if (reservations.has(session)) return { action: 'accept' };
  const advice = limiterOf(context).reserve(user, rate);
  if (advice.allowed) {
    reservations.set(session, advice.reservation);
    const release = () => {
      // Gone before its data: the place is free. Once the data hook took it out of the map, the
      // hook settles it (a message whose client left after the final dot is still accepted).
      if (reservations.get(session) !== advice.reservation) return;
      reservations.delete(session);
      advice.reservation.release();
    };
    if (session.signal.aborted) release();
    else session.signal.addEventListener('abort', release, { once: true });
    return { action: 'accept' };
  }
  const retry = Math.ceil(advice.retryAfterMs / 1000);
  context.log.event(session.id, 'smtp', 'send-rate-exceeded', {
    address: session.remoteAddress,
    user,
    rate: rate.text,
    retry,
  });
  context.metrics.messageRejected('send-rate');
  return {
    action: 'reject',
    code: 450,
    enhanced: '4.7.1',
    text: `Sending rate of ${rate.text} exceeded for ${user}; try again in ${retry} s`,
  };
}

/** MAIL FROM on submission: the user's own addresses only (RFC 6409 6.1: the MSA may enforce it). */
export function checkSender(context: SubmissionContext, session: SessionInfo, sender: string): Decision {
  const user = session.user;
  if (user === undefined) {
    return { action: 'reject', code: 530, enhanced: '5.7.0', text: 'Authentication required' };
  }
  if (!context.ownedAddresses(user).has(sender.toLowerCase())) {
    context.log.event(session.id, 'smtp', 'sender-refused', {
      address: session.remoteAddress,
      user,
      from: `<${sender}>`,
    });
    context.metrics.messageRejected('sender');
    return {
      action: 'reject',
      code: 550,
      enhanced: '5.7.1',
      text: `<${sender}>: sender address not owned by user ${user}`,
    };
  }
  return { action: 'accept' };
}
