import { isIP } from 'node:net';
import type { MtaStsPolicy } from '@homing/mta-sts';
import type { ClientTimeouts, ClientTlsOptions } from '@homing/smtp/client';
import { DeliveryError } from '../delivery-error';
import type { HostsLookup } from '../hosts-file';
import type { Logger } from '../logger';
import type { MtaStsPolicySource } from '../mta-sts-source';
import {
  type AddressPreference,
  type DeliveryResolver,
  type MailExchanger,
  type MailRoute,
  resolveHostAddresses,
  resolveMailRoute,
} from '../mx-routing';
import { failAll, type RecipientOutcome } from '../recipient-outcome';
import { classifyFailure, type FailureClass } from '../reply-class';
import type { TlsReportCounters } from '../tls-report';
import type { PreparedMessage } from './prepared-message';
import type { SessionPool } from './session-pool';
import { type Smarthost, smarthostTls } from './smarthost';
import { lookupDane, requirementFor, type TlsRequirement } from './tls-requirement';
import { attemptAddress } from './transaction';

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
  /** Source address per family; none: the system's choice. */
  localAddress: { ipv4?: string; ipv6?: string };
  timeouts: Partial<ClientTimeouts> | undefined;
  pool: SessionPool;
  /** Aborts when the agent closes: sessions outlive any one delivery, so only this may tear them down. */
  sessionSignal: AbortSignal;
  report: TlsReportCounters;
  logger: Logger;
  /** The static host table consulted before DNS for MX and smarthost names, or false. */
  hosts: HostsLookup | false;
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
        hosts: context.hosts,
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
        { domain: route.domain, host: mx.host, address, requirement },
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
