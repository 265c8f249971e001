const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** What one call of `DataDecoder.decode` found. */
export interface DecodeStep {
  /** Body bytes, dot-unstuffed: sub-arrays of the input, never copies. */
  segments: Uint8Array[];
  /** Index in the input up to which bytes were used; the rest must be given again with more bytes. */
  consumed: number;
  /** True when `CRLF.CRLF` was found; `consumed` is just past it. */
  end: boolean;
  /** Set when a line ends in a bare LF (RFC 5321 2.3.8): the caller must not read on. */
  bareLineFeed: boolean;
}

/**
 * Streaming decoder for a DATA body (RFC 5321 4.1.1.4, 4.5.2). End of data is `CRLF.CRLF`
 * and nothing else: a bare LF or bare CR never ends it, so a message cannot smuggle commands
 * past another server's idea of where it ends. Every LF must follow a CR; the first that does
 * not is reported. Lines longer than `maxLineLength` (RFC 5321 4.5.3.1.6: 1000 octets with CRLF)
 * are remembered in `lineTooLong` and the caller decides at the end.
 *
 * Hot path: one `indexOf` per line, no per-line allocation; a segment is cut only where a
 * stuffed dot is removed.
 */
export class DataDecoder {
  /** True once any line was longer than the limit. */
  lineTooLong = false;
  private atLineStart = true;
  private previousWasCR = false;
  private lineLength = 0;

  /** `maxLineLength` counts the CRLF; 0 turns the check off. */
  constructor(private readonly maxLineLength = 1000) {}

  /** Decodes `input` from `start`. The data begins right after the DATA command's 354 reply. */
  decode(input: Uint8Array, start: number): DecodeStep {
    const segments: Uint8Array[] = [];
    const n = input.length;
    const max = this.maxLineLength;
    let p = start;
    let segmentStart = p;
    while (p < n) {
      if (this.atLineStart) {
        if (input[p] === DOT) {
          // We need up to three octets to tell ".CRLF" (end), ".LF" (bare LF) and a stuffed dot apart.
          if (p + 1 >= n) break;
          const next = input[p + 1];
          if (next === CR) {
            if (p + 2 >= n) break;
            if (input[p + 2] === LF) {
              if (p > segmentStart) segments.push(input.subarray(segmentStart, p));
              return { segments, consumed: p + 3, end: true, bareLineFeed: false };
            }
          } else if (next === LF) {
            if (p > segmentStart) segments.push(input.subarray(segmentStart, p));
            return { segments, consumed: p, end: false, bareLineFeed: true };
          }
          // RFC 5321 4.5.2: a line starting with a period has that period removed.
          if (p > segmentStart) segments.push(input.subarray(segmentStart, p));
          p += 1;
          segmentStart = p;
          this.lineLength = 1;
        }
        this.atLineStart = false;
        this.previousWasCR = false;
      }
      const lf = input.indexOf(LF, p);
      if (lf === -1) {
        this.lineLength += n - p;
        if (max > 0 && this.lineLength > max) this.lineTooLong = true;
        this.previousWasCR = input[n - 1] === CR;
        p = n;
        break;
      }
      const crBefore = lf > p ? input[lf - 1] === CR : this.previousWasCR;
      if (!crBefore) {
        if (lf > segmentStart) segments.push(input.subarray(segmentStart, lf));
        return { segments, consumed: lf, end: false, bareLineFeed: true };
      }
      this.lineLength += lf + 1 - p;
      if (max > 0 && this.lineLength > max) this.lineTooLong = true;
      this.lineLength = 0;
      this.atLineStart = true;
      p = lf + 1;
    }
    if (p > segmentStart) segments.push(input.subarray(segmentStart, p));
    return { segments, consumed: p, end: false, bareLineFeed: false };
  }

  /** Makes the decoder ready for the next message (call before each one; `lineTooLong` is kept until then). */
  reset(): void {
    this.atLineStart = true;
    this.previousWasCR = false;
    this.lineLength = 0;
    this.lineTooLong = false;
  }
}
