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
    return { chunks: slices(bytes), size: wireSize(bytes), eightBit: hasEightBit(bytes), cancel: () => {} };
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

/**
 * The size SIZE= announces (RFC 1870 3: with CRLF line ends, without dot-stuffing): bare LF and
 * bare CR become CRLF on the wire, and a missing final CRLF is added.
 */
export function wireSize(bytes: Uint8Array): number {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let size = buffer.length;
  for (let lf = buffer.indexOf(0x0a); lf !== -1; lf = buffer.indexOf(0x0a, lf + 1)) {
    if (lf === 0 || buffer[lf - 1] !== 0x0d) size++;
  }
  for (let cr = buffer.indexOf(0x0d); cr !== -1; cr = buffer.indexOf(0x0d, cr + 1)) {
    if (buffer[cr + 1] !== 0x0a) size++;
  }
  const last = buffer[buffer.length - 1];
  if (buffer.length > 0 && last !== 0x0a && last !== 0x0d) size += 2;
  return size;
}

function hasEightBit(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return true;
  return false;
}
