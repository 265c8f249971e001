// The public signing API: a signer you write the message into, and two conveniences around it.
import { SigningCore } from './internal/signing-core';
import type { SignerOptions, SignResult } from './signature-options';

/** A signer for one message: write it in with update(), in chunks of any size, then call final(). */
export interface DkimSigner {
  /** Feeds the next part of the message (bytes as they will be sent; a string is taken as UTF-8). */
  update(chunk: Uint8Array | string): void;
  /** Ends the message and returns the DKIM-Signature field(s) to put before it. */
  final(): SignResult;
  /**
   * As final(), with the private-key operations on libuv's thread pool, so the event loop goes on
   * meanwhile (use one or the other, once).
   */
  finalAsync(): Promise<SignResult>;
}

/** Makes a signer for one message; options are checked now, so a bad key or domain throws here. */
export function createSigner(options: SignerOptions): DkimSigner {
  const core = new SigningCore(options);
  return {
    update: (chunk) => core.update(chunk),
    final: () => core.final(),
    finalAsync: () => core.finalAsync(),
  };
}

/** Signs a whole message held in memory. */
export function signMessage(message: Uint8Array | string, options: SignerOptions): SignResult {
  const signer = createSigner(options);
  signer.update(message);
  return signer.final();
}

/** Signs a message read from a stream or any async iterable of chunks, holding only the header block. */
export async function signStream(
  source: AsyncIterable<Uint8Array | string>,
  options: SignerOptions & { signal?: AbortSignal },
): Promise<SignResult> {
  const signer = createSigner(options);
  options.signal?.throwIfAborted();
  for await (const chunk of source) {
    options.signal?.throwIfAborted();
    signer.update(chunk);
  }
  return signer.final();
}
