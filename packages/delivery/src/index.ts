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
export { type DaneMatch, type DaneMatchOptions, matchTlsa, type TlsaRecord } from './dane';
/** The delivery agent: MX, TLS policy, session reuse, per-recipient outcomes. */
export {
  createDeliveryAgent,
  type DeliveryAgent,
  type DeliveryEnvelope,
  type DeliveryLogger,
  type DeliveryOptions,
  type DeliveryResult,
  deliver,
  type RecipientOutcome,
  type Smarthost,
} from './delivery-agent';
/** The package's one error class, its codes, and the check that recognises it. */
export { DeliveryError, type DeliveryErrorCode, isDeliveryError } from './delivery-error';
/** The worker that drives a `@homing/queue` Queue: claim, deliver, settle, bounce. */
export { type DeliveryWorkerOptions, processClaim, runDeliveryWorker } from './delivery-worker';
/** MTA-STS policy type, the injectable policy source, and MX pattern matching (RFC 8461). */
export { type MtaStsPolicy, type MtaStsPolicySource, matchesMxPattern, mtaStsAllowsMx } from './mta-sts';
/** `@homing/policy`'s MTA-STS discovery as a policy source (the default without a resolver). */
export { createMtaStsSource, type MtaStsSourceOptions } from './mta-sts-source';
/** MX routing (RFC 5321 5.1, RFC 7505) and IDN normalisation. */
export {
  type AddressPreference,
  type DeliveryResolver,
  domainOfAddress,
  type MailExchanger,
  type MailRoute,
  type RouteOptions,
  resolveHostAddresses,
  resolveMailRoute,
  toALabelDomain,
} from './mx-routing';
/** Reply and failure classification: transient (defer) or permanent (bounce). */
export {
  classifyFailure,
  classifyReply,
  enhancedStatusOf,
  type FailureClass,
  formatReplyLine,
  type ReplyClass,
  type SmtpReply,
} from './reply-class';
/** TLS-RPT style counters (RFC 8460). */
export {
  type TlsDomainCounters,
  type TlsPolicyType,
  TlsReportCounters,
  type TlsResultType,
} from './tls-report';
