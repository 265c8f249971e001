// Public API of @homing/delivery: exported by name, nothing else.

/** Builds RFC 3464 DSNs (bounce and delay warning) and extracts a message's header section. */
export {
  type Bounce,
  type BounceOptions,
  type BounceRecipient,
  createBounce,
  createDelayWarning,
  originalHeaders,
} from './bounce';
/** Matches a certificate chain against TLSA records (DANE, RFC 7672). */
export { type DaneMatch, type DaneMatchOptions, matchTlsa } from './dane';
/** The delivery agent: MX, TLS policy, session reuse, per-recipient outcomes. */
export {
  createDeliveryAgent,
  type DeliveryAgent,
  type DeliveryEnvelope,
  type DeliveryLogger,
  type DeliveryOptions,
  type DeliveryResult,
  deliver,
  type Logger,
  type RecipientDsn,
  type Smarthost,
} from './delivery-agent';
/** The package's one error class, its codes, and the check that recognises it. */
export { DeliveryError, type DeliveryErrorCode, isDeliveryError } from './delivery-error';
/** The worker that drives a `@homing/queue` Queue: claim, deliver, settle, bounce. */
export { type DeliveryWorkerOptions, type DsnRequest, processClaim, runDeliveryWorker } from './delivery-worker';
/** The static host table (hosts file, `localhost`) consulted before DNS for MX and smarthost names. */
export { createHostsLookup, type HostsLookup, type HostsLookupOptions } from './hosts-file';
/** A message opened per transaction (a queued body) instead of held in memory. */
export type { MessageSource } from './message-source';
/** `@homing/mta-sts`'s MTA-STS discovery as delivery's policy source (the default without a resolver). */
export { createMtaStsSource, type MtaStsPolicySource, type MtaStsSourceOptions } from './mta-sts-source';
/** MX routing (RFC 5321 5.1, RFC 7505) and IDN normalisation. */
export {
  type AddressPreference,
  type DeliveryResolver,
  domainOfAddress,
  type HostAddressOptions,
  type MailExchanger,
  type MailRoute,
  type RouteOptions,
  resolveHostAddresses,
  resolveMailRoute,
  toALabelDomain,
} from './mx-routing';
/** One recipient's outcome: `@homing/queue`'s `RecipientOutcome` with the reply, status code and MX. */
export type { DeliverySession, RecipientOutcome } from './recipient-outcome';
/** Reply and failure classification: transient (defer) or permanent (bounce). */
export {
  classifyFailure,
  classifyReply,
  enhancedStatusOf,
  type FailureClass,
  formatReplyLine,
  type ReplyClass,
} from './reply-class';
/** Builds RFC 3464 success DSNs (delivered, relayed, expanded) for NOTIFY=SUCCESS (RFC 3461 6.2). */
export { createSuccessReport, type SuccessRecipient, type SuccessReportOptions } from './success-report';
/** TLS-RPT style counters (RFC 8460). */
export {
  type TlsDomainCounters,
  type TlsPolicyType,
  TlsReportCounters,
  type TlsResultType,
} from './tls-report';
