import { isIP } from 'node:net';
import type { RecipientSpec } from '@homing/smtp';
import { connect, type TransactionResult } from '@homing/smtp/client';
import { DeliveryError } from '../delivery-error';
import { type DeliverySession, failAll, outcomeOf, type RecipientOutcome } from '../recipient-outcome';
import { classifyFailure, classifyReply, enhancedStatusOf, type FailureClass, formatReplyLine } from '../reply-class';
import type { DeliveryContext } from './domain-delivery';
import type { PreparedMessage } from './prepared-message';
import type { PooledSession } from './session-pool';
import { smarthostTls } from './smarthost';
import { checkSession, clientTlsOptions, resultOfConnectFailure, type TlsRequirement } from './tls-requirement';

/** The result of trying one address: final outcomes, or a failure that sends us to the next address. */
export type Attempt = { done: true; outcomes: RecipientOutcome[] } | { done: false; failure: FailureClass };

/** Where one attempt goes. */
export interface Destination {
  domain: string;
  host: string;
  address: string;
  requirement: TlsRequirement;
}

function sessionKey(address: string, port: number, host: string, requirement: TlsRequirement): string {
  return [address, port, host, requirement.policyType, requirement.required, requirement.verifyPkix].join('|');
}

/** Socket errors that mean the peer had closed or reset the connection. */
const DEAD_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Whether a reused session failed because it was no longer usable, so that the message should
 * go once more, at once, on a fresh connection instead of being deferred or failed:
 * - `SESSION_UNUSABLE`: `@homing/smtp`'s client says so (a 503 to MAIL on a reused session, or a
 *   session the peer closed while idle); no recipient of the message was accepted;
 * - the connection was found closed or reset (the peer dropped the idle session, and we only
 *   learnt it by writing). No reply to the end of data came, so the server took no responsibility
 *   for the message; the retry sends nothing that the deferral it replaces would not send later.
 */
export function isDeadSession(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SESSION_UNUSABLE' || code === 'CONNECTION_CLOSED' || DEAD_SOCKET.has(String(code));
}

/**
 * A reused session answered MAIL with 503 (bad sequence, RFC 5321 4.2.4): the server still holds
 * a transaction (Postfix after a refused end of data). The session is the problem, not the message.
 */
function refusedAsBadSequence(result: TransactionResult): boolean {
  return result.accepted.length === 0 && result.mailReply.code === 503;
}

/** Opens a session to the destination, or gives the failure that moves on to the next address. */
async function openSession(
  context: DeliveryContext,
  destination: Destination,
  port: number,
  key: string,
  signal?: AbortSignal,
): Promise<{ session: PooledSession } | { failure: FailureClass }> {
  const { domain, host, address, requirement } = destination;
  const smarthost = context.smarthost;
  await context.pool.reserve(signal);
  let session: PooledSession;
  try {
    const tls = clientTlsOptions(requirement, host, context.tls);
    if (smarthost !== undefined && smarthostTls(smarthost) === 'implicit') tls.mode = 'implicit';
    const localAddress = isIP(address) === 6 ? context.localAddress.ipv6 : context.localAddress.ipv4;
    const client = await connect({
      host: address,
      port,
      ...(localAddress === undefined ? {} : { localAddress }),
      hostname: context.hostname,
      tls,
      ...(smarthost?.auth === undefined ? {} : { auth: smarthost.auth }),
      ...(context.timeouts === undefined ? {} : { timeouts: context.timeouts }),
      signal: context.sessionSignal,
    });
    session = { client, key, sent: 0 };
  } catch (error) {
    context.pool.unreserve();
    const tlsResult = requirement.required ? resultOfConnectFailure(error) : undefined;
    if (tlsResult !== undefined) context.report.record(domain, requirement.policyType, tlsResult, host);
    const failure = classifyFailure(error);
    context.logger.info({ domain, mx: host, address, reason: failure.reason }, 'connection failed');
    // TLS failures under a policy are deferrals, never a reason to bounce or to send in plain text.
    return { failure: tlsResult !== undefined ? { ...failure, status: 'deferred', enhanced: '4.7.5' } : failure };
  }
  const verdict = checkSession(requirement, session.client.tls);
  context.report.record(domain, requirement.policyType, verdict.result, host);
  if (verdict.failure !== undefined) {
    context.pool.discard(session);
    const error = new DeliveryError('TLS_POLICY', `${host}: ${verdict.failure}`);
    context.logger.warn({ domain, mx: host, address, reason: error.message }, 'TLS policy refused the session');
    return { failure: classifyFailure(error) };
  }
  return { session };
}

/** What the session and this transaction looked like, for each outcome (`RecipientOutcome.session`). */
function sessionOf(
  destination: Destination,
  port: number,
  session: PooledSession,
  reused: boolean,
  from: string,
  result: TransactionResult,
): DeliverySession {
  const { client } = session;
  const replies: DeliverySession['replies'] = [];
  if (client.greeting !== undefined) replies.push({ command: '(greeting)', reply: formatReplyLine(client.greeting) });
  replies.push({ command: `MAIL FROM:<${from}>`, reply: formatReplyLine(result.mailReply) });
  for (const r of [...result.accepted, ...result.rejected]) {
    if (r.reply !== result.mailReply && r.reply !== result.dataReply) {
      replies.push({ command: `RCPT TO:<${r.address}>`, reply: formatReplyLine(r.reply) });
    }
  }
  if (result.dataReply !== undefined)
    replies.push({ command: '(end of data)', reply: formatReplyLine(result.dataReply) });
  const tls = client.tls;
  const localAddress = client.localAddress;
  return {
    host: destination.host,
    address: destination.address,
    port,
    ...(localAddress === undefined ? {} : { localAddress }),
    ...(tls === undefined
      ? {}
      : {
          tls: {
            protocol: tls.protocol,
            cipher: tls.cipher,
            authorized: tls.authorized,
            ...(tls.authorizationError === undefined ? {} : { authorizationError: tls.authorizationError }),
          },
        }),
    reused,
    dsn: client.extensions.dsn,
    replies,
  };
}

function outcomesOf(result: TransactionResult, recipients: readonly string[], host: string): RecipientOutcome[] {
  const outcomes = new Map<string, RecipientOutcome>();
  for (const accepted of result.accepted) {
    const reply = result.dataReply ?? accepted.reply;
    outcomes.set(
      accepted.address,
      outcomeOf(accepted.address, 'delivered', enhancedStatusOf(reply), 'delivered', reply, host),
    );
  }
  for (const rejected of result.rejected) {
    const status = classifyReply(rejected.reply) === 'permanent' ? 'failed' : 'deferred';
    const enhanced = enhancedStatusOf(rejected.reply);
    outcomes.set(
      rejected.address,
      outcomeOf(rejected.address, status, enhanced, `${host} refused it`, rejected.reply, host),
    );
  }
  return recipients.map(
    (address) =>
      outcomes.get(address) ??
      outcomeOf(address, 'deferred', '4.0.0', `${host} gave no reply for this recipient`, undefined, host),
  );
}

/**
 * The recipients with the NOTIFY and ORCPT the sender gave (RFC 3461 4.1, 4.2); the client sends
 * them, with RET and ENVID, only when the server offers DSN (RFC 3461 5.2: else they are dropped
 * and the sender's requests stay with us, whose reports honour them).
 */
function recipientSpecs(recipients: readonly string[], message: PreparedMessage): (string | RecipientSpec)[] {
  const requests = message.recipientDsn;
  if (requests === undefined) return [...recipients];
  return recipients.map((address) => {
    const request = requests[address];
    if (request === undefined) return address;
    return {
      address,
      ...(request.notify === undefined ? {} : { notify: [...request.notify] }),
      ...(request.originalRecipient === undefined ? {} : { orcpt: request.originalRecipient }),
      ...(request.originalRecipientType === undefined ? {} : { orcptType: request.originalRecipientType }),
    };
  });
}

type Sent = { kind: 'outcomes'; outcomes: RecipientOutcome[] } | { kind: 'dead-session'; reason: string };

/** One transaction on an open session; the session goes back to the pool or is closed. */
async function transact(
  context: DeliveryContext,
  destination: Destination,
  port: number,
  session: PooledSession,
  reused: boolean,
  recipients: readonly string[],
  message: PreparedMessage,
): Promise<Sent> {
  const { domain, host, address } = destination;
  const client = session.client;
  const body = await message.body.forServer(client.extensions.eightBitMime).catch((error: unknown) => {
    context.pool.put(session);
    throw error;
  });
  if (!body.ok) {
    // RFC 6152 3 and RFC 3463 5.6.3: nothing was sent; the session stays good for other messages.
    context.pool.put(session);
    const reason = `${host} does not offer 8BITMIME and the message cannot be made 7-bit: ${body.reason}`;
    context.logger.info({ domain, mx: host, address, reason }, 'conversion to 7-bit impossible');
    return { kind: 'outcomes', outcomes: failAll(recipients, { status: 'failed', enhanced: '5.6.3', reason }, host) };
  }
  session.sent += 1;
  try {
    const params = {
      ...(message.envelopeId === undefined ? {} : { envelopeId: message.envelopeId }),
      ...(message.ret === undefined ? {} : { ret: message.ret }),
      ...(body.declare8BitMime ? { body: '8BITMIME' as const } : {}),
    };
    const result = await client.send({
      from: message.from,
      to: recipientSpecs(recipients, message),
      message: body.message,
      ...(Object.keys(params).length === 0 ? {} : { params }),
      ...(body.size === undefined ? {} : { size: body.size }),
    });
    if (reused && refusedAsBadSequence(result)) {
      context.pool.discard(session);
      return {
        kind: 'dead-session',
        reason: `${host} answered MAIL with ${result.mailReply.code} on a reused session`,
      };
    }
    // A refused end of data may leave the server holding that transaction (Postfix with
    // smtpd_end_of_data_restrictions answers the next MAIL with 503): close the session, as
    // Postfix's own client does, rather than reuse it.
    if (result.dataReply !== undefined && result.dataReply.code >= 300) context.pool.discard(session);
    else context.pool.put(session);
    const carried = sessionOf(destination, port, session, reused, message.from, result);
    const outcomes = outcomesOf(result, recipients, host).map((outcome) => ({ ...outcome, session: carried }));
    return { kind: 'outcomes', outcomes };
  } catch (error) {
    // The client keeps a session usable only when nothing was sent (SIZE, SMTPUTF8 refused up front).
    if (client.usable) context.pool.put(session);
    else context.pool.discard(session);
    const failure = classifyFailure(error);
    if (reused && isDeadSession(error)) return { kind: 'dead-session', reason: failure.reason };
    context.logger.info({ domain, mx: host, address, reason: failure.reason }, 'transaction failed');
    return { kind: 'outcomes', outcomes: failAll(recipients, failure, host) };
  } finally {
    body.dispose();
  }
}

/**
 * Sends the message to one address of an MX host (or the smarthost): on an idle pooled session
 * when there is one, else on a new connection. A pooled session that turns out dead (see
 * `isDeadSession`) is thrown away and the message goes once more on a fresh connection.
 */
export async function attemptAddress(
  context: DeliveryContext,
  destination: Destination,
  recipients: readonly string[],
  message: PreparedMessage,
  signal?: AbortSignal,
): Promise<Attempt> {
  const smarthost = context.smarthost;
  const port = smarthost ? (smarthost.port ?? (smarthostTls(smarthost) === 'implicit' ? 465 : 587)) : context.port;
  const key = sessionKey(destination.address, port, destination.host, destination.requirement);
  const pooled = context.pool.take(key);
  if (pooled !== undefined) {
    const sent = await transact(context, destination, port, pooled, true, recipients, message);
    if (sent.kind === 'outcomes') return { done: true, outcomes: sent.outcomes };
    context.logger.info(
      { domain: destination.domain, mx: destination.host, address: destination.address, reason: sent.reason },
      'pooled session unusable; sending again on a fresh connection',
    );
  }
  const opened = await openSession(context, destination, port, key, signal);
  if ('failure' in opened) return { done: false, failure: opened.failure };
  const sent = await transact(context, destination, port, opened.session, false, recipients, message);
  if (sent.kind === 'outcomes') return { done: true, outcomes: sent.outcomes };
  // Only a reused session reports itself dead; a fresh one never gets here.
  return { done: true, outcomes: failAll(recipients, { status: 'deferred', enhanced: '4.4.2', reason: sent.reason }) };
}
