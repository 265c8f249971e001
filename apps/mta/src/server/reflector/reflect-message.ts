// The reflector at the MX's end of data (`reflector: check@DOMAIN`): a message to that address
// is answered with a report of what the server saw, queued back to the envelope sender like any
// other message. Never to the null sender, never to an automatic message (RFC 3834 2), and at
// most so many an hour per sender and per client.
import { signMessage } from '@homing/dkim';
import type { AuthenticationResults } from '@homing/policy';
import { checkFcrdns } from '@homing/policy';
import type { Decision, SessionInfo } from '@homing/smtp/server';
import type { Config } from '../../config/config-types';
import { withBudget } from '../inbound/filter-verdict';
import { headerValue } from '../inbound/message-buffer';
import type { InboundContext } from '../inbound/mx-hooks';
import { lintHeader } from './header-lint';
import { ReflectorRateLimit } from './reflector-rate-limit';
import { buildReport, renderReportMessage } from './reflector-report';

const limits = new WeakMap<InboundContext, ReflectorRateLimit>();

/** True when `address` is the configured reflector (RCPT TO accepts it though no user has it). */
export function isReflectorAddress(config: Config, address: string): boolean {
  return config.reflector !== undefined && address.toLowerCase() === config.reflector;
}

/**
 * Answers a message to the reflector. Resolves the decision for the whole message when the
 * reflector was its only recipient, or undefined when it was not for the reflector at all or had
 * other recipients too (they get the message as usual).
 */
export async function reflectMessage(
  context: InboundContext,
  session: SessionInfo,
  input: { head: string; auth: AuthenticationResults | undefined; sender: string },
): Promise<Decision | undefined> {
  const config = context.config();
  const reflector = config.reflector;
  const recipients = session.envelope.to.map((r) => r.mailbox.address);
  if (reflector === undefined || !recipients.some((address) => isReflectorAddress(config, address))) return undefined;
  const only = recipients.every((address) => isReflectorAddress(config, address));
  const done = (text: string): Decision | undefined =>
    only ? { action: 'accept', code: 250, enhanced: '2.0.0', text } : undefined;
  const { sender, head } = input;
  const log = (event: string, fields: Record<string, string | number>) =>
    context.log.event(session.id, 'reflector', event, { from: `<${sender}>`, ...fields });

  if (sender === '') {
    // RFC 5321 6.1 / RFC 3834 2: nothing answers the null sender, so no bounce loop can start.
    log('ignored', { reason: 'null-sender' });
    return done('Ok: no report for the null sender');
  }
  const autoSubmitted = headerValue(head, 'Auto-Submitted');
  if (autoSubmitted !== undefined && autoSubmitted.toLowerCase() !== 'no') {
    log('ignored', { reason: 'auto-submitted' });
    return done('Ok: no report for an automatic message');
  }
  let limit = limits.get(context);
  if (limit === undefined) {
    limit = new ReflectorRateLimit();
    limits.set(context, limit);
  }
  const taken = limit.take(sender, session.remoteAddress);
  if (!taken.ok) {
    const minutes = Math.max(1, Math.ceil(taken.retryAfterMs / 60_000));
    log('rate-limited', { by: taken.key, retry: `${minutes}m` });
    return only
      ? { action: 'reject', code: 450, enhanced: '4.7.1', text: `Too many reports; try again in ${minutes} minutes` }
      : undefined;
  }

  const fcrdns = config.offline
    ? undefined
    : await withBudget(
        config.filters.timeoutMs,
        (signal) => checkFcrdns(session.remoteAddress, { resolver: context.resolver(), signal }),
        () => undefined,
        session.signal,
      );
  const seen = {
    reflector,
    hostname: config.hostname,
    receivedAt: new Date(),
    envelope: { from: sender, to: recipients },
    client: { ip: session.remoteAddress, helo: session.hello?.domain, fcrdns },
    tls: session.secure,
    auth: input.auth,
    header: lintHeader(head),
    messageId: headerValue(head, 'Message-ID'),
    subject: headerValue(head, 'Subject'),
  };
  const report = buildReport(seen);
  const text = renderReportMessage(report, seen);
  // Signed like our other mail, so the report passes DMARC where it lands (its sender is <>).
  const signatures = context.dkimSignatures?.(reflector.slice(reflector.lastIndexOf('@') + 1));
  const signed = signatures === undefined || signatures.length === 0 ? '' : signMessage(text, { signatures }).header;
  try {
    const queued = await context
      .queue()
      .enqueue(
        { sender: '', recipients: [sender], attributes: { reflector: session.id, client: session.remoteAddress } },
        Buffer.from(signed + text, 'utf8'),
      );
    const failed = report.checks.filter((check) => check.status === 'fail').map((check) => check.name);
    log('report-queued', { queueid: queued.id, to: `<${sender}>`, failed: failed.join(',') || 'none' });
    context.onQueued(queued.id);
    return done(`Ok: report queued as ${queued.id}`);
  } catch (error) {
    log('report-failed', { error: error instanceof Error ? error.message : String(error) });
    // Nothing was acknowledged: the sender's server tries again, and the report comes then.
    return only
      ? { action: 'reject', code: 451, enhanced: '4.3.0', text: 'Local error in processing; try again later' }
      : undefined;
  }
}
