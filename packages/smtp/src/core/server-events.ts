import type { MailParameters, RcptParameters } from './esmtp-parameters';
import type { Mailbox } from './mailbox';
import type { Reply } from './reply';

/** Returned by `nextEvent()` when the session needs more bytes. */
export const NEED_DATA: unique symbol = Symbol.for('@homing/smtp.NEED_DATA');
/** Returned by `nextEvent()` while an event awaits a decision through `send()`. */
export const PAUSED: unique symbol = Symbol.for('@homing/smtp.PAUSED');

/** A client connected: accept (220 greeting) or reject (554, RFC 5321 3.1). Awaits a decision. */
export interface ConnectEvent {
  type: 'Connect';
}
/** HELO or EHLO. Awaits a decision. */
export interface HelloEvent {
  type: 'Hello';
  verb: 'HELO' | 'EHLO';
  domain: string;
}
/** STARTTLS (RFC 3207). Awaits a decision; on accept, upgrade the socket then call `tlsStarted()`. */
export interface StartTlsEvent {
  type: 'StartTls';
}
/** Credentials from AUTH PLAIN or LOGIN (RFC 4954, RFC 4616). Awaits a decision. */
export interface AuthenticateEvent {
  type: 'Authenticate';
  mechanism: 'PLAIN' | 'LOGIN';
  username: string;
  password: string;
  /** The PLAIN authorization identity, when the client gave one. */
  authorizationId: string | undefined;
}
/** MAIL FROM with a valid path (`from` is null for the null path `<>`). Awaits a decision. */
export interface MailFromEvent {
  type: 'MailFrom';
  from: Mailbox | null;
  params: MailParameters;
}
/** RCPT TO with a valid path, within the recipient limit. Awaits a decision. */
export interface RcptToEvent {
  type: 'RcptTo';
  to: Mailbox;
  params: RcptParameters;
}
/** The message body starts (after `354`, or at the first BDAT chunk). */
export interface MessageStartEvent {
  type: 'MessageStart';
  mode: 'DATA' | 'BDAT';
}
/** Body bytes, dot-unstuffed for DATA. Sub-arrays of the received bytes; copy them to keep them. */
export interface MessageDataEvent {
  type: 'MessageData';
  data: Uint8Array;
}
/** The whole body arrived and is within limits. Awaits a decision (250 or reject). */
export interface MessageEndEvent {
  type: 'MessageEnd';
  size: number;
}
/** The body will not be accepted (too big, line too long, bare LF, connection lost); the core replies. */
export interface MessageAbortedEvent {
  type: 'MessageAborted';
  reason: 'size' | 'line-length' | 'bare-line-feed' | 'closed';
}
/** The mail transaction was dropped (RSET, HELO/EHLO, or after a message). */
export interface ResetEvent {
  type: 'Reset';
}
/** The core answered on its own: write `data`. */
export interface ReplyEvent {
  type: 'Reply';
  reply: Reply;
  data: string;
  /** The command it answers, as it may be logged (`AUTH PLAIN`, never credentials), when it answers one. */
  command?: string;
}
/** The session is over: write what came before, then close the connection. */
export interface ClosedEvent {
  type: 'Closed';
  reason: 'quit' | 'peer-closed' | 'protocol-error' | 'rejected' | 'shutdown';
}

/** Everything `ServerSession.nextEvent()` can return besides NEED_DATA and PAUSED. */
export type ServerEvent =
  | ConnectEvent
  | HelloEvent
  | StartTlsEvent
  | AuthenticateEvent
  | MailFromEvent
  | RcptToEvent
  | MessageStartEvent
  | MessageDataEvent
  | MessageEndEvent
  | MessageAbortedEvent
  | ResetEvent
  | ReplyEvent
  | ClosedEvent;

/** The events that wait for `send(decision)`. */
export type DecisionEvent =
  | ConnectEvent
  | HelloEvent
  | StartTlsEvent
  | AuthenticateEvent
  | MailFromEvent
  | RcptToEvent
  | MessageEndEvent;

/** A decision on an event: accept, reject with a reply, or accept and tag. */
export type Decision =
  | { action: 'accept'; code?: number; enhanced?: string; text?: string }
  | { action: 'reject'; code: number; enhanced?: string; text: string }
  | { action: 'tag'; tag: string; reason?: string; text?: string };
