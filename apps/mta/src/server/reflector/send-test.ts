// The server's side of `homing doctor --send ADDRESS`: a test message from one of our addresses,
// DKIM-signed with our keys and queued like any outgoing message, so the outbound worker delivers
// it on the real path (MX, TLS policy, source address). `send.test` waits for its outcome;
// `send.report` looks for a reflector's report to it in the sender's Maildir.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeliverySession } from '@homing/delivery';
import { type SignatureOptions, signMessage } from '@homing/dkim';
import type { Queue } from '@homing/queue';
import type { Config } from '../../config/config-types';
import { parseAddress } from '../../config/config-values';
import type { ControlHandler } from '../control/control-commands';
import { ControlError } from '../control/control-error';
import { rfc5322Date } from '../inbound/trace-headers';
import type { RecipientResolution } from '../local-delivery/recipient-resolver';
import type { EventLog } from '../observability/observability-types';
import { parseReportMessage } from './reflector-report';

/** A recipient's settled outcome, as the worker gave it to the queue. */
export interface SettledOutcome {
  recipient: string;
  status: string;
  reply?: string;
  /** The SMTP session that carried it (outbound delivery's `RecipientOutcome.session`). */
  session?: DeliverySession;
}

/**
 * The queue, watched: the outcomes settled for the messages of `watch(id)` are kept, since a
 * message settled for good leaves the queue (and `inspect` can no longer say how it went).
 */
export function watchSettles(queue: Queue): { queue: Queue; watch(id: string): () => SettledOutcome[] | undefined } {
  const watched = new Map<string, SettledOutcome[] | undefined>();
  const leases = new Map<string, string>();
  const wrapped = new Proxy(queue, {
    get(target, property) {
      if (property === 'claim') {
        return async (...args: Parameters<Queue['claim']>) => {
          const claims = await target.claim(...args);
          for (const claim of claims) if (watched.has(claim.id)) leases.set(claim.leaseId, claim.id);
          return claims;
        };
      }
      if (property === 'settle') {
        return async (...args: Parameters<Queue['settle']>) => {
          const result = await target.settle(...args);
          const id = leases.get(args[0]);
          if (id !== undefined) {
            leases.delete(args[0]);
            watched.set(
              id,
              (args[1] as unknown as SettledOutcome[]).map(({ recipient, status, reply, session }) => ({
                recipient,
                status,
                ...(reply ? { reply } : {}),
                ...(session ? { session } : {}),
              })),
            );
          }
          return result;
        };
      }
      // The target as `this`: the queue may keep private fields a proxy cannot reach.
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    queue: wrapped,
    watch(id) {
      watched.set(id, undefined);
      return () => watched.get(id);
    },
  };
}

/** What the commands need of the running server. */
export interface SendTestContext {
  config(): Config;
  queue: Queue;
  /** Follows the settles of a message (from `watchSettles`). */
  watch(id: string): () => SettledOutcome[] | undefined;
  dkimSignatures(domain: string): SignatureOptions[] | undefined;
  resolveRecipient(address: string): RecipientResolution;
  /** The Maildir root (`{state}/mail`). */
  mailRoot: string;
  log: EventLog;
}

function stringArg(args: Record<string, unknown>, key: string): string | undefined {
  const value = args[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 320)
    throw new ControlError('BAD_REQUEST', `args.${key} must be an address`);
  return value;
}

/** The test message: every field receivers and the reflector's lint look for, and a token to find its answer by. */
export function testMessage(
  from: string,
  to: string,
  hostname: string,
  now = new Date(),
): { text: string; messageId: string } {
  const token = randomBytes(8).toString('hex');
  const domain = from.slice(from.lastIndexOf('@') + 1);
  const messageId = `<send-test-${token}@${domain}>`;
  const text = [
    `From: <${from}>`,
    `To: <${to}>`,
    `Subject: Homing send test ${token}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is a test message from ${hostname} (homing doctor --send), checking that mail from`,
    `${domain} is delivered and authenticated. It needs no answer.`,
    '',
  ].join('\r\n');
  return { text, messageId };
}

/** The control commands `send.test` and `send.report`. */
export function sendTestCommands(context: SendTestContext): Record<string, ControlHandler> {
  return {
    async 'send.test'(args) {
      const config = context.config();
      const toArg = stringArg(args, 'to');
      const to = toArg === undefined ? undefined : parseAddress(toArg);
      if (to === undefined || !to.ok)
        throw new ControlError('BAD_REQUEST', 'args.to must be the address to send the test to');
      const fromArg = stringArg(args, 'from') ?? `postmaster@${config.domains[0]}`;
      const from = parseAddress(fromArg);
      if (!from.ok || !config.domains.includes(from.value.slice(from.value.lastIndexOf('@') + 1))) {
        throw new ControlError('BAD_REQUEST', `args.from ${fromArg} is not an address at one of our domains`);
      }
      const timeoutMs =
        typeof args.timeoutMs === 'number' && args.timeoutMs > 0 ? Math.min(args.timeoutMs, 600_000) : 60_000;
      const { text, messageId } = testMessage(from.value, to.value, config.hostname);
      const domain = from.value.slice(from.value.lastIndexOf('@') + 1);
      const signatures = context.dkimSignatures(domain);
      const signed =
        signatures === undefined || signatures.length === 0 ? '' : signMessage(text, { signatures }).header;
      const queued = await context.queue.enqueue(
        { sender: from.value, recipients: [to.value], attributes: { sendtest: messageId } },
        Buffer.from(signed + text, 'utf8'),
      );
      const settled = context.watch(queued.id);
      context.log.event(context.log.runId, 'send-test', 'queued', {
        queueid: queued.id,
        from: `<${from.value}>`,
        to: `<${to.value}>`,
      });
      // The outbound worker (or local delivery) takes it from the queue; wait for its first settle.
      const result = { queueId: queued.id, messageId, from: from.value, to: to.value, signed: signed !== '' };
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const outcome = settled()?.[0];
        if (outcome !== undefined) {
          const info = await context.queue.inspect(queued.id);
          return {
            ...result,
            state: outcome.status,
            attempts: info?.recipients[0]?.attempts ?? 1,
            reply: outcome.reply ?? null,
            ...(outcome.session ? { session: outcome.session } : {}),
          };
        }
        if (Date.now() > deadline) return { ...result, state: 'pending', attempts: 0, reply: null };
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },

    async 'send.report'(args) {
      const messageId = typeof args.messageId === 'string' ? args.messageId : undefined;
      const from = stringArg(args, 'from');
      if (messageId === undefined || from === undefined) {
        throw new ControlError('BAD_REQUEST', 'args.messageId and args.from are required');
      }
      const resolution = context.resolveRecipient(from);
      const mailboxes = resolution.kind === 'local' ? resolution.mailboxes : [];
      for (const mailbox of mailboxes) {
        const at = mailbox.lastIndexOf('@');
        const directory = join(context.mailRoot, mailbox.slice(at + 1), mailbox.slice(0, at));
        for (const sub of ['new', 'cur']) {
          const names = await readdir(join(directory, sub)).catch(() => [] as string[]);
          for (const name of names) {
            const text = await readFile(join(directory, sub, name), 'utf8').catch(() => '');
            // The report's own header, not one quoted in a delivery report about it.
            const head = text.split(/\r?\n\r?\n/, 1)[0] ?? '';
            if (!/^X-Homing-Reflector: 1$/im.test(head) || !head.includes(`In-Reply-To: ${messageId}`)) continue;
            const report = parseReportMessage(text);
            if (report !== undefined) return { found: true, mailbox, report };
          }
        }
      }
      return { found: false };
    },
  };
}
