import type { Decision, DecisionEvent } from './server-events';

// The success replies each decision event may carry (RFC 5321 4.2, 4.3.2; RFC 3207 4; RFC 4954 6).
// 3xx never comes from a decision: 354 (DATA) and 334 (AUTH challenges) are the session's own.
const ACCEPT_CODES: Readonly<Record<DecisionEvent['type'], readonly number[]>> = {
  Connect: [220],
  Hello: [250],
  StartTls: [220],
  Authenticate: [235],
  MailFrom: [250],
  // RFC 5321 3.4: 251 "User not local; will forward" is a success too.
  RcptTo: [250, 251],
  MessageEnd: [250],
};

const ENHANCED = /^([245])\.\d{1,3}\.\d{1,3}$/;

/**
 * Why `decision` cannot answer `event`, or null when it can. An accept's code must be the success
 * reply the command expects, a reject's a 4xx or 5xx; an enhanced status code must be well formed
 * with the same class as the reply (RFC 3463 2). Otherwise the wire would say one thing and the
 * session count another (an accepted recipient answered 550).
 */
export function decisionProblem(event: DecisionEvent, decision: Decision): string | null {
  if (decision === null || typeof decision !== 'object') return `a decision must be an object, not ${String(decision)}`;
  // Hooks are often plain JavaScript: check the shape, not only what the types promise.
  const loose = decision as { action?: unknown; tag?: unknown; code?: number; enhanced?: string };
  const { action } = loose;
  if (action === 'tag') {
    return typeof loose.tag === 'string' ? null : 'a tag decision needs a string tag';
  }
  if (action !== 'accept' && action !== 'reject') return `unknown decision action ${JSON.stringify(action)}`;
  const code = loose.code;
  let klass: number;
  if (action === 'reject') {
    if (!Number.isInteger(code) || code! < 400 || code! > 599) {
      return `a reject decision needs a 4xx or 5xx code, not ${code}`;
    }
    klass = Math.floor(code! / 100);
  } else {
    const allowed = ACCEPT_CODES[event.type];
    if (code !== undefined && !allowed.includes(code)) {
      return `an accept decision for ${event.type} may carry ${allowed.join(' or ')}, not ${code}`;
    }
    klass = 2;
  }
  const { enhanced } = loose;
  if (enhanced !== undefined) {
    const match = ENHANCED.exec(enhanced);
    if (match === null) return `not an enhanced status code: ${JSON.stringify(enhanced)}`;
    if (Number(match[1]) !== klass) return `enhanced code ${enhanced} disagrees with a ${klass}xx reply`;
  }
  return null;
}
