// Forwarding (issue 14 item 7): a message for an alias whose targets are outside our domains is
// queued again for those targets, from an SRS-rewritten sender (so the destination's SPF check is
// about us and a bounce comes back to us, RFC 7208 appendix D.3 on the problem) and with an ARC
// set of our own (RFC 8617: ARC-Authentication-Results holding our Authentication-Results, the
// ARC-Message-Signature and the ARC-Seal, by mailauth), so the destination can trust what we saw.
// Junked mail is never forwarded: we would be passing spam on under our name.
import type { KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Queue } from '@homing/queue';
import { sealMessage } from 'mailauth';
import type { Srs } from './srs';

/** The key that seals: our primary domain's DKIM key (rsa-sha256). */
export interface SealingKey {
  domain: string;
  selector: string;
  privateKey: KeyObject;
}

/** One message to forward. */
export interface ForwardRequest {
  /** The envelope sender as received; '' (a bounce) stays the null sender. */
  sender: string;
  targets: string[];
  /** Header lines to put before the body, with their CRLFs: our Received and Authentication-Results. */
  prepend: string;
  /** The value of our Authentication-Results (after `Authentication-Results: `). */
  authResults: string;
  /** The incoming ARC chain's result, the `cv=` of our seal (RFC 8617 5.1.2). */
  chain: 'none' | 'pass' | 'fail';
  /** The body as received (readable twice: once sealed, once queued). */
  body: () => Buffer | Readable;
  attributes: Record<string, string>;
}

/** What the forwarder needs. */
export interface ForwarderOptions {
  queue: () => Queue;
  srs: Srs;
  /** The domain SRS addresses are at: our primary domain. */
  domain: () => string;
  sealingKey: () => SealingKey | undefined;
}

/** Queues forwarded copies. */
export interface Forwarder {
  /** Queues the copy for the targets; resolves its queue id and the rewritten sender once durable. */
  forward(request: ForwardRequest): Promise<{ id: string; sender: string }>;
}

/** Makes the forwarder (see the file's comment). */
export function createForwarder(options: ForwarderOptions): Forwarder {
  return {
    async forward(request) {
      const sender = options.srs.forward(request.sender, options.domain());
      let arc = '';
      const key = options.sealingKey();
      if (key !== undefined) {
        const body = request.body();
        const input = Buffer.isBuffer(body)
          ? Buffer.concat([Buffer.from(request.prepend, 'latin1'), body])
          : Readable.from(
              (async function* () {
                yield Buffer.from(request.prepend, 'latin1');
                yield* body;
              })(),
            );
        // mailauth's ARCSealOptions type leaves out the two fields its code reads: authResults and cv.
        const seal = {
          signingDomain: key.domain,
          selector: key.selector,
          privateKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
          authResults: request.authResults,
          cv: request.chain,
        };
        arc = (await sealMessage(input, seal as Parameters<typeof sealMessage>[1])).toString('latin1');
      }
      const queued = await options
        .queue()
        .enqueue(
          { sender, recipients: request.targets, attributes: { ...request.attributes, forwarded: request.sender } },
          request.body(),
          { prepend: `${arc}${request.prepend}` },
        );
      return { id: queued.id, sender };
    },
  };
}
