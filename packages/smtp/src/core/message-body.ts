import { DataDecoder } from './data-decoder';
import type { Reply } from './reply';
import { reply } from './reply-format';
import type { MessageAbortedEvent, ServerEvent } from './server-events';

type AbortReason = MessageAbortedEvent['reason'];

// Octets past the limit always read before `farOverLimit`, whatever the limit.
const FAR_OVER_MINIMUM = 1024 * 1024;

/**
 * The body of the message a server session is receiving: DATA decoding (through DataDecoder)
 * or BDAT chunk counting (RFC 3030), and the size limit. It adds MessageStart, MessageData and
 * MessageAborted events to the session's queue; the session keeps the states and replies.
 */
export class MessageBody {
  /** Octets of body so far (never more than the limit). */
  size = 0;
  /** Why the message will not be accepted, once that is known. */
  aborted: AbortReason | null = null;
  /** The BDAT chunk being read: its size, what is left of it, and whether it is the last. */
  chunkSize = 0;
  chunkRemaining = 0;
  chunkLast = false;
  // Octets read past the size limit (they are dropped), for `farOverLimit`.
  private overflow = 0;
  private readonly decoder: DataDecoder;

  constructor(
    private readonly maxSize: number,
    maxTextLine: number,
    private readonly events: ServerEvent[],
  ) {
    this.decoder = new DataDecoder(maxTextLine);
  }

  start(mode: 'DATA' | 'BDAT'): void {
    this.size = 0;
    this.overflow = 0;
    this.aborted = null;
    this.decoder.reset();
    this.events.push({ type: 'MessageStart', mode });
  }

  abort(reason: AbortReason): void {
    this.aborted = reason;
    this.events.push({ type: 'MessageAborted', reason });
  }

  /** Reads DATA from `offset`. A bare LF aborts the message (the session then closes). */
  readData(
    buffer: Buffer,
    offset: number,
  ): { consumed: number; progressed: boolean; end: boolean; bareLineFeed: boolean } {
    const step = this.decoder.decode(buffer, offset);
    for (const segment of step.segments) this.add(segment);
    if (step.bareLineFeed && this.aborted === null) this.abort('bare-line-feed');
    // RFC 5321 4.5.3.1.6: judged at the end, once the whole message was read.
    if (step.end && this.aborted === null && this.decoder.lineTooLong) this.abort('line-length');
    const progressed = step.consumed > offset || step.end || step.bareLineFeed;
    return { consumed: step.consumed, progressed, end: step.end, bareLineFeed: step.bareLineFeed };
  }

  /**
   * True once a DATA body that is over the size limit has gone on for as much again (and at least
   * 1 MiB): reading on past the limit to give a clean 552 at the end is polite, reading a
   * gigabyte is not.
   */
  get farOverLimit(): boolean {
    return this.aborted === 'size' && this.overflow > Math.max(this.maxSize, FAR_OVER_MINIMUM);
  }

  startChunk(size: number, last: boolean): void {
    this.chunkSize = size;
    this.chunkRemaining = size;
    this.chunkLast = last;
  }

  /** Reads BDAT chunk octets from `offset` (dropping them unless `keep`); returns how many it took. */
  readChunk(buffer: Buffer, offset: number, keep: boolean): number {
    const take = Math.min(buffer.length - offset, this.chunkRemaining);
    if (keep && take > 0) this.add(buffer.subarray(offset, offset + take));
    this.chunkRemaining -= take;
    return take;
  }

  /** The reply that ends an aborted message, or null when the message awaits a decision. */
  endReply(): Reply | null {
    if (this.aborted === 'size') return reply(552, '5.3.4', 'Message size exceeds fixed maximum message size');
    if (this.aborted === 'line-length') {
      return reply(500, '5.5.2', 'Message has lines longer than 1000 octets (RFC 5321 4.5.3.1.6)');
    }
    return null;
  }

  private add(segment: Uint8Array): void {
    if (this.aborted !== null) {
      if (this.aborted === 'size') this.overflow += segment.length;
      return;
    }
    const size = this.size + segment.length;
    if (this.maxSize > 0 && size > this.maxSize) {
      // Give what fits first, so that the events do not depend on how the bytes were cut.
      const fits = this.maxSize - this.size;
      if (fits > 0) this.events.push({ type: 'MessageData', data: segment.subarray(0, fits) });
      this.overflow = segment.length - Math.max(0, fits);
      this.size = this.maxSize;
      this.abort('size');
    } else {
      this.size = size;
      this.events.push({ type: 'MessageData', data: segment });
    }
  }
}
