// DKIM signing while a submitted message streams in (issue 14 item 3). The header fields the MSA
// adds (Date, Message-ID, RFC 6409 8) must be signed too, and whether they are missing, and which
// domain signs, are known only once the header block has arrived: so the chunks of the header
// block are held (as the signer holds them anyway) until its end, then the signer gets the added
// fields followed by everything, and the body streams through it without being kept.
import { createSigner, type DkimSigner, type SignatureOptions } from '@homing/dkim';

/** What to do once the header block is known. */
export interface SigningStart {
  /** Header fields added before the message (each ending in CRLF): they are signed with it. */
  prefix: string;
  /** The signatures to make; none (undefined or empty) for a message we do not sign. */
  signatures: SignatureOptions[] | undefined;
}

// Past this without an empty line the message is all header: decide with what has come (the
// signer itself refuses header blocks over 1 MiB).
const MAX_HELD = 1024 * 1024;

/** Signs a message fed chunk by chunk, with fields added before it that depend on its header. */
export class HeadFirstSigner {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private tail = '';
  private signer: DkimSigner | undefined;
  private started: SigningStart | undefined;

  constructor(private readonly start: (head: string) => SigningStart) {}

  /** Feeds the next chunk of the message as received. */
  update(chunk: Buffer): void {
    if (this.started !== undefined) {
      this.signer?.update(chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    // Only the last few octets of the previous chunk can complete a CRLF CRLF across chunks.
    const window = this.tail + chunk.toString('latin1');
    this.tail = window.slice(-3);
    if (/\r?\n\r?\n/.test(window) || this.heldBytes > MAX_HELD) this.begin();
  }

  private begin(): SigningStart {
    const head = Buffer.concat(this.held, this.heldBytes).toString('latin1');
    const started = this.start(head);
    this.started = started;
    if (started.signatures !== undefined && started.signatures.length > 0) {
      this.signer = createSigner({ signatures: started.signatures });
      this.signer.update(started.prefix);
      for (const chunk of this.held) this.signer.update(chunk);
    }
    this.held = [];
    return started;
  }

  /**
   * Ends the message: the added fields and the DKIM-Signature field(s) (empty when unsigned). The
   * private-key operation runs on the thread pool: an RSA-2048 signature is ~0.3 ms of CPU per
   * message that the event loop spends on the other sessions meanwhile.
   */
  async final(): Promise<{ prefix: string; signature: string }> {
    const started = this.started ?? this.begin();
    return {
      prefix: started.prefix,
      signature: this.signer === undefined ? '' : (await this.signer.finalAsync()).header,
    };
  }
}
