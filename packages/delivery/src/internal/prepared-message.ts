import type { MessageBody } from '@homing/smtp/client';
import type { RecipientDsn } from '../delivery-agent';
import type { MessageSource } from '../message-source';
import { hasEightBit, type SevenBitResult, toSevenBit } from './seven-bit';

/** The message as delivery sends it. */
export interface PreparedMessage {
  from: string;
  envelopeId?: string;
  ret?: 'FULL' | 'HDRS';
  recipientDsn?: Record<string, RecipientDsn>;
  body: PreparedBody;
}

/** What to give the client for one server, or why the message cannot go to it. */
export type BodyForServer =
  | { ok: true; message: MessageBody; size?: number; declare8BitMime?: boolean; dispose(): void }
  | { ok: false; reason: string };

async function readAll(source: MessageSource): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await source.open())
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Reads a source through once, keeping nothing: whether it has an octet above 127. */
async function scanEightBit(source: MessageSource): Promise<boolean> {
  const stream = await source.open();
  try {
    for await (const chunk of stream) {
      if (typeof chunk === 'string' ? /[^\x00-\x7f]/.test(chunk) : hasEightBit(chunk)) return true;
    }
    return false;
  } finally {
    (stream as { destroy?: () => void }).destroy?.();
  }
}

const NOTHING = () => {};

/**
 * A message body as bytes in memory or as a source opened per transaction. It knows whether it
 * is 8-bit (RFC 6152) and makes its 7-bit form once, when a server without 8BITMIME needs it.
 */
export class PreparedBody {
  readonly #bytes: Buffer | undefined;
  readonly #source: MessageSource | undefined;
  #eightBit: Promise<boolean> | undefined;
  #sevenBit: Promise<SevenBitResult> | undefined;

  constructor(input: Buffer | MessageSource) {
    if (Buffer.isBuffer(input)) this.#bytes = input;
    else this.#source = input;
    const known = Buffer.isBuffer(input) ? undefined : input.eightBit;
    if (known !== undefined) this.#eightBit = Promise.resolve(known);
  }

  /** The body for a server that does or does not offer 8BITMIME. */
  async forServer(eightBitMime: boolean): Promise<BodyForServer> {
    const bytes = this.#bytes;
    const source = this.#source;
    if (bytes !== undefined) {
      // The client declares BODY=8BITMIME itself for 8-bit bytes when the server offers it.
      if (eightBitMime || !hasEightBit(bytes)) return { ok: true, message: bytes, dispose: NOTHING };
      return this.#converted(() => Promise.resolve(bytes));
    }
    const known = source!.eightBit;
    if (eightBitMime) return this.#opened(source!, known !== false);
    this.#eightBit ??= scanEightBit(source!);
    if (!(await this.#eightBit)) return this.#opened(source!, false);
    return this.#converted(() => readAll(source!));
  }

  async #opened(source: MessageSource, declare8BitMime: boolean): Promise<BodyForServer> {
    const stream = await source.open();
    return {
      ok: true,
      message: stream,
      ...(source.size === undefined ? {} : { size: source.size }),
      ...(declare8BitMime ? { declare8BitMime } : {}),
      dispose: () => (stream as { destroy?: () => void }).destroy?.(),
    };
  }

  async #converted(read: () => Promise<Buffer>): Promise<BodyForServer> {
    this.#sevenBit ??= read().then(toSevenBit);
    const result = await this.#sevenBit;
    if (!result.ok) return result;
    return { ok: true, message: result.message, dispose: NOTHING };
  }
}
