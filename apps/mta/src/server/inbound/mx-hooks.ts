import type { SignatureOptions } from '@homing/dkim';
import type { Resolver } from '@homing/dns';
import { checkSpf, type SpfResult } from '@homing/policy';
import type { Queue } from '@homing/queue';
import { isQueueError } from '@homing/queue';
import type { Decision, Mailbox, SessionInfo, SmtpServerHooks } from '@homing/smtp/server';
import type { Config } from '../../config/config-types';
import type { RecipientResolution } from '../local-delivery/recipient-resolver';
import type { EventLog, ListenerName, Metrics } from '../observability/observability-types';
import type { Forwarder } from '../outbound/forwarding';
import { isReflectorAddress } from '../reflector/reflect-message';
import { runConnectChecks } from './connect-checks';
import {
  dnsErrorVerdict,
  type FilterVerdict,
  firstRefusal,
  refusalOf,
  rejectDecision,
  withBudget,
} from './filter-verdict';
import { acceptMessage } from './message-acceptance';

/** What the inbound hooks read; functions, so a reload swaps what they return without new hooks. */
export interface InboundContext {
  config(): Config;
  resolver(): Resolver;
  /** Resolves a recipient address against our domains, users and aliases. */
  resolveRecipient(address: string): RecipientResolution;
  /** True when the mailbox is over its quota (only asked when a quota is set). */
  overQuota?(mailbox: string): Promise<boolean>;
  queue(): Queue;
  log: EventLog;
  metrics: Metrics;
  /** Where message bodies too large for memory wait for their enqueue. */
  tmpDir: string;
  /** Called after each enqueue, to start local delivery at once. */
  onQueued(id: string): void;
  /** Our DKIM signatures for mail from `domain` (the reflector signs its reports with them). */
  dkimSignatures?: (domain: string) => SignatureOptions[] | undefined;
  /** Queues forwarded copies for alias targets outside our domains (issue 14); none: not forwarded. */
  forwarder?: Forwarder;
}

/** What the hooks learnt about one connection, kept between phases. */
export interface InboundSession {
  listener: ListenerName;
  host: string | undefined;
  /** Junk verdicts of the connect phase: they apply to every message of the connection. */
  connectJunk: FilterVerdict[];
  /** Junk verdicts of the current transaction (MAIL phase). */
  mailJunk: FilterVerdict[];
  /** The SPF result word of the current transaction, for the log. */
  spf: string | undefined;
  /** The SPF evaluation of the MAIL phase, reused by the end-of-data checks. */
  spfResult?: SpfResult;
}

const sessions = new WeakMap<SessionInfo, InboundSession>();

/** The hooks' memory of a session (created at connect). */
export function inboundSession(session: SessionInfo): InboundSession {
  let state = sessions.get(session);
  if (state === undefined) {
    state = { listener: 'mx', host: undefined, connectJunk: [], mailJunk: [], spf: undefined };
    sessions.set(session, state);
  }
  return state;
}

/** Logs a verdict that did something (junk, reject, tempfail) and counts it. */
export function logVerdict(context: InboundContext, session: SessionInfo, verdict: FilterVerdict): void {
  if (verdict.action === 'accept') return;
  context.log.event(session.id, 'filter', verdict.action, {
    address: session.remoteAddress,
    name: verdict.filter,
    reason: verdict.reason,
  });
  if (verdict.action === 'junk') context.metrics.junked(verdict.filter);
  if (verdict.dnsError) context.metrics.dnsFailure(verdict.filter);
}

/** Refuses with the verdict's reply, counting it under the filter's name. */
function refuse(context: InboundContext, verdict: FilterVerdict, closing = false): Decision {
  context.metrics.messageRejected(verdict.filter);
  const reply = refusalOf(verdict);
  if (reply === undefined) return { action: 'accept' };
  // RFC 5321 3.1: a refused connection gets 554 and is closed; 421 when it may come back later.
  if (closing) return rejectDecision({ ...reply, code: reply.code >= 500 ? 554 : 421 });
  return rejectDecision(reply);
}

/**
 * The hooks of the MX listener, in OpenSMTPD's check -> filter -> proceed shape. The MX
 * accepts mail for our domains only: no relay for anybody, and no AUTH (no `auth` hook, so the
 * core never offers it).
 */
export function createMxHooks(context: InboundContext): SmtpServerHooks {
  return {
    async connect(session) {
      const state = inboundSession(session);
      const config = context.config();
      context.metrics.connectionOpened('mx');
      session.signal.addEventListener('abort', () => context.metrics.connectionClosed('mx'), { once: true });
      if (config.offline) {
        context.log.event(session.id, 'smtp', 'connected', { address: session.remoteAddress });
        return { action: 'accept' };
      }
      const findings = await runConnectChecks(
        session.remoteAddress,
        config.filters,
        context.resolver(),
        session.signal,
      );
      state.host = findings.host;
      context.log.event(session.id, 'smtp', 'connected', {
        address: session.remoteAddress,
        host: findings.host ?? 'unknown',
      });
      for (const verdict of findings.verdicts) logVerdict(context, session, verdict);
      const refusal = firstRefusal(findings.verdicts);
      if (refusal) return refuse(context, refusal, true);
      state.connectJunk = findings.verdicts.filter((v) => v.action === 'junk');
      return { action: 'accept' };
    },

    async mail(session, from) {
      const state = inboundSession(session);
      state.mailJunk = [];
      state.spf = undefined;
      state.spfResult = undefined;
      const config = context.config();
      const spf = config.filters.spf;
      if (config.offline || !spf.enabled) return { action: 'accept' };
      const helo = session.hello?.domain ?? '';
      const result = await withBudget(
        config.filters.timeoutMs,
        (signal) =>
          checkSpf(
            { ip: session.remoteAddress, helo, sender: from?.address ?? null },
            { resolver: context.resolver(), hostname: config.hostname, signal },
          ),
        () => undefined,
        session.signal,
      );
      state.spf = result?.result ?? 'temperror';
      state.spfResult = result;
      let verdict: FilterVerdict | undefined;
      if (result === undefined || result.result === 'temperror') {
        const reason = result?.reason ?? `SPF took longer than ${config.filters.timeoutMs} ms`;
        verdict = dnsErrorVerdict('spf', spf.onDnsError, reason);
      } else if (result.result === 'fail') {
        const why = result.explanation ? `: ${result.explanation}` : '';
        verdict = {
          filter: 'spf',
          action: spf.fail,
          reason: `SPF fail for ${result.sender} from ${session.remoteAddress}${why}`,
        };
      } else if (result.result === 'softfail') {
        verdict = {
          filter: 'spf',
          action: spf.softfail,
          reason: `SPF softfail for ${result.sender} from ${session.remoteAddress}`,
        };
      }
      if (verdict === undefined) return { action: 'accept' };
      logVerdict(context, session, verdict);
      if (verdict.action === 'junk') state.mailJunk.push(verdict);
      if (firstRefusal([verdict])) return refuse(context, verdict);
      return { action: 'accept' };
    },

    // Not async: without a quota the answer is known at once, and a decision given synchronously
    // spares the connection a pause of its socket and a trip through the microtask queue per RCPT.
    rcpt(_session, to) {
      return checkRecipient(context, to);
    },

    async data(session, message) {
      return acceptMessage(context, session, message, inboundSession(session));
    },
  };
}

/** RCPT TO on the MX: our users and aliases only (RFC 5321 4.5.1: postmaster always). */
function checkRecipient(context: InboundContext, to: Mailbox): Decision | Promise<Decision> {
  if (isReflectorAddress(context.config(), to.address)) return { action: 'accept' };
  const resolution = context.resolveRecipient(to.address);
  if (resolution.kind === 'not-ours') {
    context.metrics.messageRejected('relay');
    return { action: 'reject', code: 550, enhanced: '5.7.1', text: 'Relaying denied' };
  }
  if (resolution.kind === 'unknown') {
    context.metrics.messageRejected('unknown-user');
    return { action: 'reject', code: 550, enhanced: '5.1.1', text: `<${to.address}>: no such user here` };
  }
  const config = context.config();
  if (config.quota !== undefined && context.overQuota) return checkQuota(context, to, resolution.mailboxes);
  return { action: 'accept' };
}

/** The quota part of RCPT: `452 4.2.2` when a mailbox the recipient delivers to is full. */
async function checkQuota(context: InboundContext, to: Mailbox, mailboxes: readonly string[]): Promise<Decision> {
  if (context.overQuota) {
    for (const mailbox of mailboxes) {
      if (await context.overQuota(mailbox)) {
        context.metrics.messageRejected('quota');
        return {
          action: 'reject',
          code: 452,
          enhanced: '4.2.2',
          text: `<${to.address}>: mailbox full, try again later`,
        };
      }
    }
  }
  return { action: 'accept' };
}

/** True for the queue's "storage failed" errors, which become `451 4.3.0`. */
export function isStorageError(error: unknown): boolean {
  return isQueueError(error);
}
