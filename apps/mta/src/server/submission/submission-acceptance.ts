import { randomBytes } from 'node:crypto';
import { isDkimError } from '@homing/dkim';
import type { Decision, IncomingMessage, SessionInfo } from '@homing/smtp/server';
import { HeadFirstSigner } from '../dkim/head-first-signer';
import { enqueueAccepted } from '../inbound/message-acceptance';
import { headerValue, MessageBuffer } from '../inbound/message-buffer';
import { inboundSession } from '../inbound/mx-hooks';
import { receivedHeader, rfc5322Date } from '../inbound/trace-headers';
import { DSN_ATTRIBUTE, dsnAttribute } from '../outbound/dsn-request';
import type { SubmissionContext } from './submission-hooks';

/** The addresses of a From (or Sender) header value: `Name <a@b>, c@d` -> [a@b, c@d]. */
export function headerAddresses(value: string): string[] {
  const addresses: string[] = [];
  // Drop quoted display names and comments first; they may hold commas and @ signs.
  const plain = value.replace(/"(?:[^"\\]|\\.)*"/g, '').replace(/\((?:[^()\\]|\\.)*\)/g, '');
  for (const part of plain.split(',')) {
    const angle = /<([^>]*)>/.exec(part);
    const address = (angle ? angle[1] : part)?.trim();
    if (address) addresses.push(address.toLowerCase());
  }
  return addresses;
}

/** The RFC 3461 requests of the transaction, as the queue attribute the outbound worker reads. */
function dsnAttributes(session: SessionInfo, context: SubmissionContext): Record<string, string> {
  const value = dsnAttribute(session, context.resolveRecipient);
  return value === undefined ? {} : { [DSN_ATTRIBUTE]: value };
}

/** The domain that signs: the (first) From address's, else the envelope sender's. */
function signingDomain(head: string, sender: string): string | undefined {
  const from = headerValue(head, 'From');
  const address = (from === undefined ? undefined : headerAddresses(from)[0]) ?? sender;
  const at = address.lastIndexOf('@');
  return at === -1 ? undefined : address.slice(at + 1).toLowerCase();
}

/**
 * End of data on submission: the From header must be the user's too (else 550 5.7.1), missing
 * Date and Message-ID are added (RFC 6409 8.1, 8.3), then the message is queued for its local
 * mailboxes and remote recipients.
 */
export async function acceptSubmission(
  context: SubmissionContext,
  session: SessionInfo,
  message: IncomingMessage,
): Promise<Decision> {
  const state = inboundSession(session);
  const config = context.config();
  const buffer = new MessageBuffer(context.tmpDir);
  // Date and Message-ID are added when missing (RFC 6409 8.1, 8.3), and signed with the message.
  let messageId: string | undefined;
  const signing = new HeadFirstSigner((head) => {
    const added: string[] = [];
    if (headerValue(head, 'Date') === undefined) added.push(`Date: ${rfc5322Date(new Date())}`);
    messageId = headerValue(head, 'Message-ID');
    if (messageId === undefined) {
      messageId = `<${randomBytes(12).toString('hex')}@${config.hostname}>`;
      added.push(`Message-ID: ${messageId}`);
    }
    const domain = signingDomain(head, session.envelope.from?.address ?? '');
    return {
      prefix: added.map((line) => `${line}\r\n`).join(''),
      signatures: domain === undefined ? undefined : context.dkimSignatures?.(domain),
    };
  });
  try {
    try {
      for await (const chunk of message.body) {
        await buffer.write(chunk as Buffer);
        signing.update(chunk as Buffer);
      }
    } catch (error) {
      if (!isDkimError(error, 'HEADER_TOO_LARGE')) throw error;
      context.metrics.messageRejected('size');
      return { action: 'reject', code: 552, enhanced: '5.3.4', text: 'The header section is too large' };
    }
    await buffer.end();
    const signed = await signing.final();
    const user = session.user ?? '';
    const head = buffer.headText();
    const owned = context.ownedAddresses(user);
    const from = headerValue(head, 'From');
    const fromAddresses = from === undefined ? [] : headerAddresses(from);
    const foreign = fromAddresses.filter((address) => !owned.has(address));
    if (fromAddresses.length === 0 || foreign.length > 0) {
      context.log.event(session.id, 'smtp', 'sender-refused', {
        address: session.remoteAddress,
        user,
        header_from: from ?? '(none)',
      });
      context.metrics.messageRejected('sender');
      const text =
        fromAddresses.length === 0
          ? 'the message has no From header'
          : `From <${foreign[0]}> is not an address of ${user}`;
      return { action: 'reject', code: 550, enhanced: '5.7.1', text };
    }
    const recipients = new Set<string>();
    for (const { mailbox } of session.envelope.to) {
      const resolution = context.resolveRecipient(mailbox.address);
      if (resolution.kind === 'local') {
        for (const target of resolution.mailboxes) recipients.add(target);
        // An alias of ours that forwards elsewhere: our own user's mail needs no SRS (the sender is ours).
        for (const target of resolution.forwards) recipients.add(target);
      } else if (resolution.kind === 'not-ours') recipients.add(mailbox.address);
    }
    const received = receivedHeader({
      hostname: config.hostname,
      helo: session.hello?.domain,
      host: undefined,
      ip: session.remoteAddress,
      secure: session.secure,
      authenticated: true,
      verb: session.hello?.verb,
      mode: message.mode,
      id: session.id,
    });
    return await enqueueAccepted(context, session, buffer, {
      sender: session.envelope.from?.address ?? '',
      recipients: [...recipients],
      attributes: {
        client: session.remoteAddress,
        listener: state.listener,
        session: session.id,
        user,
        msgid: messageId ?? '',
        ...dsnAttributes(session, context),
      },
      // RFC 6376 5.6: the DKIM-Signature goes before the fields it signed, under our Received.
      prepend: `${received}\r\n${signed.signature}${signed.prefix}`,
      messageId,
      listener: state.listener,
    });
  } finally {
    await buffer.dispose();
  }
}
