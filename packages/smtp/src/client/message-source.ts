import type { Readable } from 'node:stream';

/** A message to send: the whole of it, or a stream of it. */
export type MessageBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array | string>;

/** The body as the client reads it: chunks, and what is known beforehand. */
export interface MessageSource {
  chunks: AsyncIterable<Uint8Array>;
  /** Octets, when known before sending (string and buffer bodies). */
  size: number | undefined;
  /** Whether the body holds octets above 127, when known. */
  eightBit: boolean | undefined;
  /** Stops the caller's stream when the client leaves it early (a Readable is destroyed). */
  cancel(): void;
}

// Slices of a buffer body so each write meets back-pressure instead of queueing megabytes at once.
const SLICE = 256 * 1024;

/** Wraps any accepted body into chunks plus its size when that is known up front. */
export function messageSource(body: MessageBody): MessageSource {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    return { chunks: slices(bytes), size: bytes.length, eightBit: hasEightBit(bytes), cancel: () => {} };
  }
  if (body && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const iterable = body as AsyncIterable<Uint8Array | string> & { destroy?: () => void };
    return {
      chunks: asBytes(iterable),
      size: undefined,
      eightBit: undefined,
      // A generator stuck awaiting the stream cannot be returned from; destroying the stream ends it.
      cancel: () => (typeof iterable.destroy === 'function' ? iterable.destroy() : undefined),
    };
  }
  throw new TypeError('message must be a string, a Uint8Array, a Readable or an async iterable of chunks');
}

async function* slices(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += SLICE) yield bytes.subarray(offset, offset + SLICE);
}

async function* asBytes(stream: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

function hasEightBit(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return true;
  return false;
}
