import { isIP } from 'node:net';
import { type ClientTimeouts, type ClientTlsOptions, connect } from '@homing/smtp/client';
import { DeliveryError } from '../delivery-error';
import type { MtaStsPolicy, MtaStsPolicySource } from '../mta-sts';
import {
  type AddressPreference,
  type DeliveryResolver,
  type MailExchanger,
  type MailRoute,
  resolveHostAddresses,
  resolveMailRoute,
} from '../mx-routing';
import { classifyFailure, classifyReply, enhancedStatusOf, type FailureClass, type SmtpReply } from '../reply-class';
import type { TlsReportCounters } from '../tls-report';
import type { PooledSession, SessionPool } from './session-pool';
import {
  checkSession,
  clientTlsOptions,
  lookupDane,
  requirementFor,
  resultOfConnectFailure,
  type TlsRequirement,
} from './tls-requirement';

/** One recipient's outcome. */
export interface RecipientOutcome {
  address: string;
  status: 'delivered' | 'deferred' | 'failed';
  /** The remote reply that decided it, when there was one. */
  reply?: SmtpReply;
  /** RFC 3463 enhanced status code. */
  enhanced: string;
  /** One line: the reply, or why there was none. */
  reason: string;
  /** The MX host that answered, when one did. */
  mx?: string;
}

/** A relay that takes all mail (smarthost mode). */
export interface Smarthost {
  /** Host name (resolved with the agent's resolver) or IP address. */
  host: string;
  /** Default 587 (465 with `tls: 'implicit'`). */
  port?: number;
  /** AUTH PLAIN/LOGIN credentials (RFC 4954), sent only under TLS. */
  auth?: { user: string; pass: string; method?: 'PLAIN' | 'LOGIN' };
  /** Default `required` (certificate verified for `host`) with `auth`, `opportunistic` without. */
  tls?: 'required' | 'opportunistic' | 'implicit';
}

/** A smarthost's TLS: as configured, else required with AUTH (credentials never go in clear) and opportunistic without. */
function smarthostTls(smarthost: Smarthost): 'required' | 'opportunistic' | 'implicit' {
  return smarthost.tls ?? (smarthost.auth === undefined ? 'opportunistic' : 'required');
}

/** Everything a domain delivery needs from its agent. */
export interface DeliveryContext {
  resolver: DeliveryResolver;
  hostname: string;
  port: number;
  smarthost: Smarthost | undefined;
  mtaSts: MtaStsPolicySource | undefined;
  dane: boolean;
  tls: ClientTlsOptions;
  addressPreference: AddressPreference;
  timeouts: Partial<ClientTimeouts> | undefined;
  pool: SessionPool;
  /** Aborts when the agent closes: sessions outlive any one delivery, so only this may tear them down. */
  sessionSignal: AbortSignal;
  report: TlsReportCounters;
  logger: { debug(o: object, m?: string): void; info(o: object, m?: string): void; warn(o: object, m?: string): void };
}

/** The message as delivery sends it. */
export interface PreparedMessage {
  from: string;
  envelopeId?: string;
  body: Buffer;
}

function failAll(recipients: readonly string[], failure: FailureClass, mx?: string): RecipientOutcome[] {
  return recipients.map((address) => ({
    address,
    status: failure.status,
    enhanced: failure.enhanced,
    reason: failure.reason,
    ...(failure.reply === undefined ? {} : { reply: failure.reply }),
    ...(mx === undefined ? {} : { mx }),
  }));
}

async function policyFor(context: DeliveryContext, domain: string, signal?: AbortSignal): Promise<MtaStsPolicy | null> {
  // RFC 8461 applies to domains: no policy for an address literal (and no _mta-sts lookup of an IP).
  if (context.mtaSts === undefined || context.smarthost !== undefined || isIP(domain) !== 0) return null;
  try {
    return await context.mtaSts(domain, signal === undefined ? {} : { signal });
  } catch (error) {
    // RFC 8461 5.1: a policy that cannot be fetched (and is not cached) means no policy.
    context.report.record(domain, 'sts', 'sts-policy-fetch-error', '');
    context.logger.warn({ domain, err: error }, 'MTA-STS policy fetch failed; delivering without it');
    return null;
  }
}

function sessionKey(address: string, port: number, host: string, requirement: TlsRequirement): string {
  return [address, port, host, requirement.policyType, requirement.required, requirement.verifyPkix].join('|');
}

/** Sends one message to the recipients of one domain; resolves to each recipient's outcome, never rejects. */
export async function deliverToDomain(
  context: DeliveryContext,
  domain: string,
  recipients: readonly string[],
  message: PreparedMessage,
  signal?: AbortSignal,
): Promise<RecipientOutcome[]> {
  const smarthost = context.smarthost;
  let route: MailRoute;
  try {
    route = smarthost
      ? { domain, exchangers: [{ host: smarthost.host, preference: 0 }], implicit: true, authenticated: false }
      : await resolveMailRoute(domain, context.resolver, signal === undefined ? {} : { signal });
  } catch (error) {
    return failAll(recipients, classifyFailure(error));
  }
  const policy = await policyFor(context, route.domain, signal);
  let exchangers: MailExchanger[] = route.exchangers;
  if (policy?.mode === 'enforce') {
    exchangers = exchangers.filter((mx) => requirementFor(mx.host, route.domain, null, policy).verifyPkix);
    if (exchangers.length === 0) {
      context.report.record(route.domain, 'sts', 'validation-failure', route.exchangers[0]?.host ?? '');
      const error = new DeliveryError('TLS_POLICY', `no MX host of ${route.domain} matches its MTA-STS policy`);
      return failAll(recipients, classifyFailure(error));
    }
  }
  // Built only when every host failed: an Error (with its stack) per delivery is measurable at 1000 msg/s.
  let last: FailureClass | undefined;
  let lastMx: string | undefined;
  for (const mx of exchangers) {
    let requirement: TlsRequirement;
    let addresses: string[];
    try {
      const resolved = await resolveHostAddresses(mx.host, context.resolver, {
        preference: context.addressPreference,
        ...(signal === undefined ? {} : { signal }),
      });
      addresses = resolved.addresses;
      // RFC 7672 2.2.1/2.2.2: DANE only where the MX and address answers are DNSSEC-validated.
      const daneApplies = context.dane && !smarthost && route.authenticated && resolved.authenticated;
      const tlsa = daneApplies ? await lookupDane(context.resolver, mx.host, context.port, signal) : null;
      requirement = smarthost
        ? {
            policyType: 'no-policy-found',
            required: smarthostTls(smarthost) !== 'opportunistic',
            verifyPkix: smarthostTls(smarthost) !== 'opportunistic',
            hostnames: [mx.host],
          }
        : requirementFor(mx.host, route.domain, tlsa, policy);
    } catch (error) {
      if (error instanceof DeliveryError && error.code === 'TLS_POLICY') {
        context.report.record(route.domain, 'tlsa', 'tlsa-invalid', mx.host);
      }
      last = classifyFailure(error);
      lastMx = mx.host;
      continue;
    }
    for (const address of addresses) {
      const outcome = await attemptAddress(
        context,
        route.domain,
        mx.host,
        address,
        requirement,
        recipients,
        message,
        signal,
      );
      if (outcome.done) return outcome.outcomes;
      last = outcome.failure;
      lastMx = mx.host;
    }
  }
  last ??= classifyFailure(new DeliveryError('NO_ROUTE', `no MX host of ${route.domain} answered`));
  return failAll(recipients, last, lastMx);
}

type Attempt = { done: true; outcomes: RecipientOutcome[] } | { done: false; failure: FailureClass };

async function attemptAddress(
  context: DeliveryContext,
  domain: string,
  host: string,
  address: string,
  requirement: TlsRequirement,
  recipients: readonly string[],
  message: PreparedMessage,
  signal?: AbortSignal,
): Promise<Attempt> {
  const smarthost = context.smarthost;
  const port = smarthost ? (smarthost.port ?? (smarthost.tls === 'implicit' ? 465 : 587)) : context.port;
  const key = sessionKey(address, port, host, requirement);
  let session: PooledSession | undefined = context.pool.take(key);
  if (session === undefined) {
    await context.pool.reserve(signal);
    try {
      const tls = clientTlsOptions(requirement, host, context.tls);
      if (smarthost?.tls === 'implicit') tls.mode = 'implicit';
      const client = await connect({
        host: address,
        port,
        name: context.hostname,
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
      return {
        done: false,
        failure: tlsResult !== undefined ? { ...failure, status: 'deferred', enhanced: '4.7.5' } : failure,
      };
    }
    const verdict = checkSession(requirement, session.client.tls);
    context.report.record(domain, requirement.policyType, verdict.result, host);
    if (verdict.failure !== undefined) {
      context.pool.discard(session);
      const error = new DeliveryError('TLS_POLICY', `${host}: ${verdict.failure}`);
      context.logger.warn({ domain, mx: host, address, reason: error.message }, 'TLS policy refused the session');
      return { done: false, failure: classifyFailure(error) };
    }
  }
  const current = session;
  current.sent += 1;
  try {
    const result = await current.client.send({
      from: message.from,
      to: recipients,
      message: message.body,
      ...(message.envelopeId === undefined ? {} : { params: { envelopeId: message.envelopeId } }),
    });
    context.pool.put(current);
    const outcomes = new Map<string, RecipientOutcome>();
    for (const accepted of result.accepted) {
      const reply = result.dataReply ?? accepted.reply;
      outcomes.set(accepted.address, {
        address: accepted.address,
        status: 'delivered',
        reply,
        enhanced: enhancedStatusOf(reply),
        reason: 'delivered',
        mx: host,
      });
    }
    for (const rejected of result.rejected) {
      const kind = classifyReply(rejected.reply);
      outcomes.set(rejected.address, {
        address: rejected.address,
        status: kind === 'permanent' ? 'failed' : 'deferred',
        reply: rejected.reply,
        enhanced: enhancedStatusOf(rejected.reply),
        reason: `${host} refused it`,
        mx: host,
      });
    }
    return {
      done: true,
      outcomes: recipients.map(
        (address) =>
          outcomes.get(address) ?? {
            address,
            status: 'deferred',
            enhanced: '4.0.0',
            reason: `${host} gave no reply for this recipient`,
            mx: host,
          },
      ),
    };
  } catch (error) {
    // The client keeps a session usable only when nothing was sent (SIZE, SMTPUTF8 refused up front).
    if (current.client.usable) context.pool.put(current);
    else context.pool.discard(current);
    const failure = classifyFailure(error);
    context.logger.info({ domain, mx: host, address, reason: failure.reason }, 'transaction failed');
    return { done: true, outcomes: failAll(recipients, failure, host) };
  }
}
