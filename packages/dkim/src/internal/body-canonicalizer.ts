// Streaming body canonicalization, RFC 6376 3.4.3 (simple) and 3.4.4 (relaxed).
//
// The body arrives in chunks of any size. Clean stretches (no tab, no run of spaces, no space before
// a line break, no bare LF) are passed to the sink as slices of the input, unchanged and uncopied;
// only the few bytes around a special spot go through the byte-wise state machine. What carries over
// between chunks is a handful of flags and a count of withheld empty lines, never the bytes
// themselves, so memory does not grow with the message.
//
// Line ends: a bare LF is read as CRLF, since SMTP transmits lines ending in CRLF and every
// verifier we test against (mailauth, dkimpy) reads LF the same way.

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CR_BUFFER = Buffer.from([CR]);
const DOUBLE_SPACE = Buffer.from([SP, SP]);
const SPACE_CR = Buffer.from([SP, CR]);
const NOT_FOUND = Number.MAX_SAFE_INTEGER;
const SCRATCH_BYTES = 4000;
const COPY_LIMIT = 512;

/** Receives canonical bytes in order; it must consume them before returning (the buffer is reused). */
export type CanonicalSink = (bytes: Buffer) => void;

export type BodyCanonicalization = 'simple' | 'relaxed';

export class BodyCanonicalizer {
  private readonly relaxed: boolean;
  private readonly sink: CanonicalSink;
  // A CR at the end of a chunk: the CR of a CRLF, or a bare CR (content); the next byte decides.
  private pendingCR = false;
  // Relaxed only: whitespace seen after the last emitted byte, emitted as one SP if content follows.
  private pendingWsp = false;
  // Line breaks not yet emitted: they are dropped if nothing but empty lines follows (3.4.3, 3.4.4 b).
  private withheldBreaks = 0;
  private emittedAny = false;
  // Output of the byte-wise path; allocated on first use, small enough to come from Node's buffer pool.
  private scratch: Buffer | undefined;
  private scratchLength = 0;
  private ended = false;
  // Next position of each special pattern in the current chunk (NOT_FOUND when none is left).
  private nextTab = -1;
  private nextDoubleSpace = -1;
  private nextSpaceCr = -1;
  private nextBareLf = -1;

  constructor(mode: BodyCanonicalization, sink: CanonicalSink) {
    this.relaxed = mode === 'relaxed';
    this.sink = sink;
  }

  write(input: Uint8Array): void {
    if (this.ended) throw new Error('body canonicalizer already ended');
    if (input.length === 0) return;
    let chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
    let position = 0;
    if (this.pendingCR) {
      // Rare (a chunk split between CR and LF): one copy keeps the rest of the logic simple.
      this.pendingCR = false;
      chunk = Buffer.concat([CR_BUFFER, chunk]);
      this.step(CR);
      position = 1;
    }
    // The tail (trailing breaks, and whitespace when relaxed) may be trailing empty lines or a CR
    // split from its LF: it goes through the state machine so that its meaning carries over.
    let tail = chunk.length;
    while (tail > position) {
      const byte = chunk[tail - 1];
      if (byte === CR || byte === LF || (this.relaxed && (byte === SP || byte === TAB))) tail--;
      else break;
    }
    while (position < tail && (this.pendingWsp || this.pendingCR)) this.step(chunk[position++]!);
    if (position < tail) this.fastPath(chunk, position, tail);
    for (let i = tail; i < chunk.length; i++) this.step(chunk[i]!);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pendingCR) {
      this.pendingCR = false;
      this.content(CR);
    }
    // Trailing whitespace on an unterminated last line is dropped: SMTP will end that line with CRLF.
    this.pendingWsp = false;
    // 3.4.3: simple turns an empty body into one CRLF; 3.4.4: relaxed leaves it empty. A non-empty
    // body ends with exactly one CRLF either way (the withheld breaks were trailing empty lines).
    if (!this.relaxed || this.emittedAny) {
      this.pushByte(CR);
      this.pushByte(LF);
    }
    this.flushScratch();
  }

  // [start, tail) starts in a neutral state (no pending CR or whitespace) and ends with a content byte.
  private fastPath(chunk: Buffer, start: number, tail: number): void {
    this.nextTab = this.nextDoubleSpace = this.nextSpaceCr = this.nextBareLf = -1;
    let cursor = start;
    while (cursor < tail) {
      const special = this.findSpecial(chunk, cursor, tail);
      if (special >= tail) {
        this.emitSlice(chunk.subarray(cursor, tail));
        return;
      }
      let runStart = special;
      if (this.relaxed) {
        while (runStart > cursor && (chunk[runStart - 1] === SP || chunk[runStart - 1] === TAB)) runStart--;
      }
      if (runStart > cursor) this.emitSlice(chunk.subarray(cursor, runStart));
      // Byte-wise until the state is neutral again and a content byte comes next.
      let i = runStart;
      do this.step(chunk[i++]!);
      while (i < tail && (this.pendingWsp || this.pendingCR || this.isSeparator(chunk[i]!)));
      cursor = i;
    }
  }

  private isSeparator(byte: number): boolean {
    return byte === CR || byte === LF || (this.relaxed && (byte === SP || byte === TAB));
  }

  private findSpecial(chunk: Buffer, from: number, tail: number): number {
    if (this.nextBareLf < from) this.nextBareLf = findBareLf(chunk, from, tail);
    let special = this.nextBareLf;
    if (this.relaxed) {
      if (this.nextTab < from) this.nextTab = found(chunk.indexOf(TAB, from), tail);
      if (this.nextDoubleSpace < from) this.nextDoubleSpace = found(chunk.indexOf(DOUBLE_SPACE, from), tail);
      if (this.nextSpaceCr < from) this.nextSpaceCr = found(chunk.indexOf(SPACE_CR, from), tail);
      special = Math.min(special, this.nextTab, this.nextDoubleSpace, this.nextSpaceCr);
    }
    return special;
  }

  private step(byte: number): void {
    if (this.pendingCR) {
      this.pendingCR = false;
      if (byte === LF) {
        this.lineBreak();
        return;
      }
      this.content(CR);
    }
    if (byte === CR) this.pendingCR = true;
    else if (byte === LF) this.lineBreak();
    else if (this.relaxed && (byte === SP || byte === TAB)) this.pendingWsp = true;
    else this.content(byte);
  }

  private lineBreak(): void {
    // 3.4.4 a: whitespace at the end of a line is ignored.
    this.pendingWsp = false;
    this.withheldBreaks++;
  }

  private content(byte: number): void {
    this.flushWithheld();
    if (this.pendingWsp) {
      this.pendingWsp = false;
      this.pushByte(SP);
    }
    this.pushByte(byte);
    this.emittedAny = true;
  }

  private emitSlice(slice: Buffer): void {
    this.flushWithheld();
    if (slice.length <= COPY_LIMIT) {
      // A short stretch between two special spots: copying it beats a hash.update() call per line.
      if (this.scratchLength + slice.length > SCRATCH_BYTES) this.flushScratch();
      this.scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
      this.scratch.set(slice, this.scratchLength);
      this.scratchLength += slice.length;
    } else {
      this.flushScratch();
      this.sink(slice);
    }
    this.emittedAny = true;
  }

  private flushWithheld(): void {
    while (this.withheldBreaks > 0) {
      this.pushByte(CR);
      this.pushByte(LF);
      this.withheldBreaks--;
    }
  }

  private pushByte(byte: number): void {
    this.scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
    if (this.scratchLength === SCRATCH_BYTES) this.flushScratch();
    this.scratch[this.scratchLength++] = byte;
  }

  private flushScratch(): void {
    if (this.scratchLength === 0 || !this.scratch) return;
    this.sink(this.scratch.subarray(0, this.scratchLength));
    this.scratchLength = 0;
  }
}

function found(index: number, tail: number): number {
  return index === -1 || index >= tail ? NOT_FOUND : index;
}

function findBareLf(chunk: Buffer, from: number, tail: number): number {
  let index = chunk.indexOf(LF, from);
  while (index !== -1 && index < tail) {
    if (index === 0 || chunk[index - 1] !== CR) return index;
    index = chunk.indexOf(LF, index + 1);
  }
  return NOT_FOUND;
}
