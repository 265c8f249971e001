import { type AuthenticationResults, authenticate } from '@homing/policy';
import { isQueueError } from '@homing/queue';
import type { Decision, IncomingMessage, SessionInfo } from '@homing/smtp/server';
import { DSN_ATTRIBUTE, dsnAttribute } from '../outbound/dsn-request';
import { reflectMessage } from '../reflector/reflect-message';
import {
  dnsErrorVerdict,
  type FilterVerdict,
  firstRefusal,
  refusalOf,
  rejectDecision,
  withBudget,
} from './filter-verdict';
import { headerValue, MessageBuffer } from './message-buffer';
import type { InboundContext, InboundSession } from './mx-hooks';
import { logVerdict } from './mx-hooks';
import { junkHeader, receivedHeader } from './trace-headers';

/**
 * End of data on the MX: read the body, run DKIM, ARC and DMARC through `authenticate()`, apply
 * the DMARC filter, then queue the message with its trace headers. The `250` goes out only when
 * the queue has the message durable (the queue resolves after its fsync).
 */
export async function acceptMessage(
  context: InboundContext,
  session: SessionInfo,
  message: IncomingMessage,
  state: InboundSession,
): Promise<Decision> {
  const buffer = new MessageBuffer(context.tmpDir);
  try {
    for await (const chunk of message.body) await buffer.write(chunk as Buffer);
    await buffer.end();
    return await decideAndQueue(context, session, state, buffer, message.mode);
  } finally {
    await buffer.dispose();
  }
}

async function decideAndQueue(
  context: InboundContext,
  session: SessionInfo,
  state: InboundSession,
  buffer: MessageBuffer,
  mode: 'DATA' | 'BDAT',
): Promise<Decision> {
  const config = context.config();
  const sender = session.envelope.from?.address ?? '';
  const recipients = expandRecipients(context, session);
  const head = buffer.headText();
  const messageId = headerValue(head, 'Message-ID');
  const to = session.envelope.to.map((r) => `<${r.mailbox.address}>`).join(',');
  const verdicts: FilterVerdict[] = [...state.connectJunk, ...state.mailJunk];

  let authResults: AuthenticationResults | undefined;
  let authHeader = `Authentication-Results: ${config.hostname}; none`;
  if (!config.offline) {
    authResults = await withBudget(
      config.filters.timeoutMs,
      (signal) =>
        authenticate(
          {
            ip: session.remoteAddress,
            helo: session.hello?.domain ?? '',
            sender,
            message: buffer.buffer() ?? buffer.stream(),
            hostname: config.hostname,
            spf: state.spfResult,
          },
          { resolver: context.resolver(), signal },
        ),
      () => undefined,
      session.signal,
    );
    if (authResults) authHeader = authResults.header;
    else
      authHeader = `Authentication-Results: ${config.hostname}; none (the checks took longer than ${config.filters.timeoutMs} ms)`;
    // Before the DMARC filter: the reflector reports a failing message rather than refusing it.
    const reflected = await reflectMessage(context, session, { head, auth: authResults, sender });
    if (reflected !== undefined) return reflected;
    const dmarcVerdict = dmarcFilter(context, authResults);
    if (dmarcVerdict) {
      logVerdict(context, session, dmarcVerdict);
      if (dmarcVerdict.action === 'junk') verdicts.push(dmarcVerdict);
      if (firstRefusal([dmarcVerdict])) {
        context.metrics.messageRejected('dmarc');
        const reply = refusalOf(dmarcVerdict);
        if (reply) {
          logMessage(context, session, {
            messageId,
            sender,
            to,
            size: buffer.size,
            result: `${reply.code} ${reply.enhanced} ${reply.text}`,
          });
          return rejectDecision(reply);
        }
      }
    }
  }

  const junk = verdicts.filter((v) => v.action === 'junk');
  const headers = [
    receivedHeader({
      hostname: config.hostname,
      helo: session.hello?.domain,
      host: state.host,
      ip: session.remoteAddress,
      secure: session.secure,
      authenticated: session.user !== undefined,
      verb: session.hello?.verb,
      mode,
      id: session.id,
      recipient: session.envelope.to.length === 1 ? session.envelope.to[0]?.mailbox.address : undefined,
    }),
    authHeader,
    ...junk.map((v) => junkHeader(v)),
  ];
  const attributes: Record<string, string> = {
    client: session.remoteAddress,
    listener: state.listener,
    session: session.id,
  };
  if (messageId) attributes.msgid = messageId;
  // RFC 3461: the sender's NOTIFY, ORCPT, RET and ENVID, for the reports of whoever delivers it.
  const dsn = dsnAttribute(session, context.resolveRecipient);
  if (dsn !== undefined) attributes[DSN_ATTRIBUTE] = dsn;
  if (junk.length > 0) {
    attributes.folder = 'Junk';
    attributes.junk = [...new Set(junk.map((v) => v.filter))].join(',');
  }
  // Issue 14 item 7: alias targets outside our domains get their own copy (SRS, ARC); never junk.
  const forwarded = await forwardCopy(context, session, buffer, {
    sender,
    junk: junk.length > 0,
    local: recipients.length > 0,
    prepend: `${headers.join('\r\n')}\r\n`,
    authHeader,
    chain: authResults?.arc.result ?? 'none',
    attributes,
  });
  if (forwarded !== undefined && (forwarded.action === 'reject' || recipients.length === 0)) return forwarded;
  return enqueueAccepted(context, session, buffer, {
    sender,
    recipients,
    attributes,
    prepend: `${headers.join('\r\n')}\r\n`,
    messageId,
    listener: state.listener,
  });
}

/**
 * Queues an accepted message and answers 250 once it is durable; a storage failure answers
 * `451 4.3.0` and nothing is acknowledged, so the client keeps the message and tries again.
 */
export async function enqueueAccepted(
  context: InboundContext,
  session: SessionInfo,
  buffer: MessageBuffer,
  message: {
    sender: string;
    recipients: string[];
    attributes: Record<string, string>;
    prepend: string;
    messageId: string | undefined;
    listener: InboundSession['listener'];
  },
): Promise<Decision> {
  const { sender, recipients, attributes, messageId } = message;
  const to = session.envelope.to.map((r) => `<${r.mailbox.address}>`).join(',');
  try {
    const queued = await context
      .queue()
      .enqueue({ sender, recipients, attributes }, buffer.buffer() ?? buffer.stream(), {
        prepend: message.prepend,
      });
    const result = `250 2.0.0 Ok: queued as ${queued.id}`;
    logMessage(context, session, { messageId, sender, to, size: buffer.size, result, id: queued.id });
    context.metrics.messageAccepted(message.listener);
    context.onQueued(queued.id);
    return { action: 'accept', code: 250, enhanced: '2.0.0', text: `Ok: queued as ${queued.id}` };
  } catch (error) {
    // RFC 5321 4.5.4.1: nothing was acknowledged; the client keeps the message and retries.
    const reason = error instanceof Error ? error.message : String(error);
    context.log.event(session.id, 'queue', 'enqueue-failed', { reason });
    context.metrics.messageRejected('storage');
    const reply = isQueueError(error) && error.reply ? error.reply : undefined;
    if (reply && reply.code >= 400 && reply.code < 500) {
      return { action: 'reject', code: reply.code, enhanced: reply.enhanced, text: reply.lines.join(' ') };
    }
    return { action: 'reject', code: 451, enhanced: '4.3.0', text: 'Local error in processing; try again later' };
  }
}

/** Forwards the copy for outside alias targets; undefined when there are none, else the decision. */
async function forwardCopy(
  context: InboundContext,
  session: SessionInfo,
  buffer: MessageBuffer,
  message: {
    sender: string;
    junk: boolean;
    /** True when local mailboxes get the message too (then junk only skips the forward). */
    local: boolean;
    prepend: string;
    authHeader: string;
    chain: 'none' | 'pass' | 'fail';
    attributes: Record<string, string>;
  },
): Promise<Decision | undefined> {
  const targets = new Set<string>();
  for (const { mailbox } of session.envelope.to) {
    const resolution = context.resolveRecipient(mailbox.address);
    if (resolution.kind === 'local') for (const target of resolution.forwards) targets.add(target);
  }
  if (targets.size === 0 || context.forwarder === undefined) return undefined;
  if (message.junk) {
    context.log.event(session.id, 'smtp', 'forward-refused', { to: [...targets].join(','), reason: 'junk' });
    if (message.local) return undefined;
    return { action: 'reject', code: 550, enhanced: '5.7.1', text: 'Message looks like spam; it is not forwarded' };
  }
  try {
    const { id, sender } = await context.forwarder.forward({
      sender: message.sender,
      targets: [...targets],
      prepend: message.prepend,
      authResults: message.authHeader.replace(/^Authentication-Results:\s*/i, ''),
      chain: message.chain,
      body: () => buffer.buffer() ?? buffer.stream(),
      attributes: message.attributes,
    });
    context.log.event(session.id, 'smtp', 'forwarded', {
      queueid: id,
      from: `<${message.sender}>`,
      srs: `<${sender}>`,
      to: [...targets].map((t) => `<${t}>`).join(','),
    });
    context.onQueued(id);
    return { action: 'accept', code: 250, enhanced: '2.0.0', text: `Ok: queued as ${id}` };
  } catch (error) {
    context.log.event(session.id, 'queue', 'enqueue-failed', { reason: String((error as Error).message ?? error) });
    context.metrics.messageRejected('storage');
    return { action: 'reject', code: 451, enhanced: '4.3.0', text: 'Local error in processing; try again later' };
  }
}

/** The mailboxes the accepted recipients deliver to, in order and without repeats. */
function expandRecipients(context: InboundContext, session: SessionInfo): string[] {
  const mailboxes = new Set<string>();
  for (const { mailbox } of session.envelope.to) {
    const resolution = context.resolveRecipient(mailbox.address);
    if (resolution.kind === 'local') for (const target of resolution.mailboxes) mailboxes.add(target);
  }
  return [...mailboxes];
}

/** The DMARC filter: the sender domain's p=reject / p=quarantine (after pct=), or a DNS failure. */
function dmarcFilter(context: InboundContext, results: AuthenticationResults | undefined): FilterVerdict | undefined {
  const filter = context.config().filters.dmarc;
  if (!filter.enabled) return undefined;
  if (results === undefined) return dnsErrorVerdict('dmarc', filter.onDnsError, 'the DMARC checks ran out of time');
  const dmarc = results.dmarc;
  if (dmarc === undefined) return undefined;
  if (dmarc.result === 'temperror') return dnsErrorVerdict('dmarc', filter.onDnsError, dmarc.reason);
  if (dmarc.result !== 'fail') return undefined;
  if (dmarc.disposition === 'reject') {
    return {
      filter: 'dmarc',
      action: filter.reject,
      reason: `DMARC policy of ${dmarc.domain} is reject: ${dmarc.reason}`,
      replyText: `Message rejected by the DMARC policy of ${dmarc.domain}`,
    };
  }
  if (dmarc.disposition === 'quarantine') {
    return {
      filter: 'dmarc',
      action: filter.quarantine,
      reason: `DMARC policy of ${dmarc.domain} is quarantine: ${dmarc.reason}`,
    };
  }
  return undefined;
}

export function logMessage(
  context: InboundContext,
  session: SessionInfo,
  fields: { messageId?: string; sender: string; to: string; size: number; result: string; id?: string },
): void {
  context.log.event(session.id, 'smtp', 'message', {
    address: session.remoteAddress,
    queueid: fields.id,
    msgid: fields.messageId,
    from: `<${fields.sender}>`,
    to: fields.to,
    size: fields.size,
    result: fields.result,
  });
}
